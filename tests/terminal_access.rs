//! An open terminal closes when its administrator's access ends: signed out, disabled,
//! demoted or a changed password (SQLite and PostgreSQL).

mod common;

use common::account;
use insectid::auth::{AccountStatus, Role};
use insectid::entities::{session, user};
use insectid::terminal::revocation;
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

async fn set_user(db: &sea_orm::DatabaseConnection, id: i64, change: impl FnOnce(&mut user::ActiveModel)) {
    let mut row = user::Entity::find_by_id(id).one(db).await.unwrap().unwrap().into_active_model();
    change(&mut row);
    row.update(db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_ends_with_the_session_the_role_the_status_and_the_password() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let expires_at = chrono::Utc::now() + chrono::Duration::days(1);
        let row = session::ActiveModel {
            id: Set("terminal-session".into()),
            data: Set("{}".into()),
            user_id: Set(Some(admin.id)),
            expires_at: Set(expires_at),
        };
        row.insert(db).await.unwrap();
        let hash = revocation::password_hash(db, admin.id).await.unwrap();
        let check = || revocation::revoked(db, admin.id, "terminal-session", &hash);
        assert_eq!(check().await.unwrap(), None, "access stands");

        set_user(db, admin.id, |u| u.role = Set(Role::Labeler)).await;
        assert_eq!(check().await.unwrap().as_deref(), Some("no longer an administrator"));
        set_user(db, admin.id, |u| u.role = Set(Role::Admin)).await;
        set_user(db, admin.id, |u| u.status = Set(AccountStatus::Disabled)).await;
        assert_eq!(check().await.unwrap().as_deref(), Some("the account was disabled"));
        set_user(db, admin.id, |u| u.status = Set(AccountStatus::Active)).await;
        set_user(db, admin.id, |u| u.password_hash = Set("$argon2id$changed".into())).await;
        assert_eq!(check().await.unwrap().as_deref(), Some("the password was changed"));
        set_user(db, admin.id, |u| u.password_hash = Set(hash.clone())).await;
        assert_eq!(check().await.unwrap(), None);

        // Signing out deletes the session: the watcher notices within its period.
        let watcher = tokio::spawn(revocation::watch(
            db.clone(),
            admin.id,
            "terminal-session".into(),
            hash.clone(),
            std::time::Duration::from_millis(50),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        assert!(!watcher.is_finished(), "nothing changed yet");
        session::Entity::delete_by_id("terminal-session".to_string()).exec(db).await.unwrap();
        let why = tokio::time::timeout(std::time::Duration::from_secs(5), watcher)
            .await
            .expect("closed within seconds")
            .unwrap();
        assert_eq!(why, "signed out");
        t.close().await;
    }
}
