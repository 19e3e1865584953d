//! Accounts, sign-in throttling, administration and the audit log, on SQLite and PostgreSQL.

use chrono::Utc;
use insectid::auth::{Account, Role};
use insectid::entities::{identification, session, user};
use insectid::error::ErrorKind;
use insectid::services::accounts::{self, SignUp};
use insectid::services::{audit, users};
use insectid::storage::PhotoStore;
use insectid::testing::test_databases;
use insectid::ServiceError;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};

const GOOD: &str = "violet-moth-harvest-42";

fn form(username: &str, password: &str) -> SignUp {
    SignUp { username: username.into(), display_name: String::new(), email: String::new(), password: password.into() }
}

async fn account(db: &DatabaseConnection, name: &str, role: Role) -> Account {
    let created = accounts::sign_up(db, form(name, GOOD), true, None).await.unwrap();
    if role != Role::User {
        let mut row: user::ActiveModel = created.clone().into();
        row.role = Set(role);
        row.update(db).await.unwrap();
    }
    accounts::check_credentials(db, name, GOOD, "10.0.0.1").await.unwrap()
}

async fn fake_session(db: &DatabaseConnection, id: &str, user_id: i64) {
    session::ActiveModel {
        id: Set(id.into()),
        data: Set("{}".into()),
        user_id: Set(Some(user_id)),
        expires_at: Set(Utc::now() + chrono::Duration::hours(1)),
    }
    .insert(db)
    .await
    .unwrap();
}

async fn sessions_of(db: &DatabaseConnection, user_id: i64) -> u64 {
    session::Entity::find().filter(session::Column::UserId.eq(user_id)).count(db).await.unwrap()
}

fn kind(r: Result<impl std::fmt::Debug, ServiceError>) -> String {
    match r {
        Err(e) => format!("{:?}: {e}", e.kind()),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_validates_and_usernames_are_unique_case_insensitively() {
    for t in test_databases().await {
        let db = &t.db;
        assert!(kind(accounts::sign_up(db, form("a", GOOD), true, None).await).contains("3 to 32 characters"));
        assert!(kind(accounts::sign_up(db, form("bad name", GOOD), true, None).await).contains("InvalidInput"));
        assert!(kind(accounts::sign_up(db, form("ann", "password123"), true, None).await).contains("harder password"));
        let mut with_email = form("ann", GOOD);
        with_email.email = "not-an-email".into();
        assert!(kind(accounts::sign_up(db, with_email, true, None).await).contains("not an email address"));

        let ann = accounts::sign_up(db, form("Ann", GOOD), true, None).await.unwrap();
        assert_eq!((ann.username.as_str(), ann.display_name.as_str(), ann.status.as_str()), ("Ann", "Ann", "active"));
        assert!(ann.password_hash.starts_with("$argon2"), "stored as an argon2 hash");
        let clash = kind(accounts::sign_up(db, form("aNN", GOOD), true, None).await);
        assert!(clash.starts_with("Conflict") && clash.contains("taken"), "{clash}");

        // With approval required, a new account waits.
        accounts::sign_up(db, form("bob", GOOD), false, None).await.unwrap();
        assert!(kind(accounts::check_credentials(db, "bob", GOOD, "10.0.0.2").await)
            .contains("waiting for an administrator"));
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_account_and_audited() {
    for t in test_databases().await {
        let db = &t.db;
        accounts::sign_up(db, form("carol", GOOD), true, None).await.unwrap();
        let signed_in = accounts::check_credentials(db, "CAROL", GOOD, "10.0.0.3").await.unwrap();
        assert_eq!(signed_in.username, "carol");
        assert!(kind(accounts::check_credentials(db, "nobody", GOOD, "10.0.0.3").await)
            .contains("wrong username or password"));
        for _ in 0..accounts::FREE_FAILURES {
            assert!(kind(accounts::check_credentials(db, "carol", "wrong-password-1", "10.0.0.3").await)
                .starts_with("Unauthorized"));
        }
        let throttled = kind(accounts::check_credentials(db, "carol", GOOD, "10.0.0.3").await);
        assert!(
            throttled.starts_with("TooManyRequests") && throttled.contains("try again in 1 seconds"),
            "{throttled}"
        );
        // A stranger's guesses make only the stranger's address wait: the owner signs in elsewhere.
        assert!(accounts::check_credentials(db, "carol", GOOD, "10.0.0.9").await.is_ok(), "no lock-out of the owner");
        // Once the delay has passed the address may try again; the next wait is twice as long.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert!(kind(accounts::check_credentials(db, "carol", "wrong-password-1", "10.0.0.3").await)
            .starts_with("Unauthorized"));
        let throttled = kind(accounts::check_credentials(db, "carol", GOOD, "10.0.0.3").await);
        assert!(throttled.contains("try again in 2 seconds"), "{throttled}");

        let admin = account(db, "root", Role::Admin).await;
        let log = audit::list(db, Some(&admin), 0, 50).await.unwrap();
        assert_eq!(
            log.events.iter().filter(|e| e.action == "auth.sign_in_failed").count(),
            5,
            "refused tries are not failures"
        );
        assert!(log
            .events
            .iter()
            .any(|e| e.action == "auth.sign_in" && e.actor == "carol" && e.client_addr.as_deref() == Some("10.0.0.3")));
        let carol = Account::from(
            user::Entity::find().filter(user::Column::UsernameKey.eq("carol")).one(db).await.unwrap().unwrap(),
        );
        assert!(kind(audit::list(db, Some(&carol), 0, 50).await).starts_with("Forbidden"));
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_old_one_and_ends_other_sessions() {
    for t in test_databases().await {
        let db = &t.db;
        let dan = account(db, "dan", Role::User).await;
        fake_session(db, "s1", dan.id).await;
        fake_session(db, "s2", dan.id).await;
        assert!(kind(accounts::change_password(db, &dan, "wrong-current-1", "another-good-pass-77", None).await)
            .contains("current password is wrong"));
        assert!(kind(accounts::change_password(db, &dan, GOOD, "1234567890", None).await).contains("harder password"));
        let updated = accounts::change_password(db, &dan, GOOD, "another-good-pass-77", None).await.unwrap();
        assert_ne!(axum_login::AuthUser::session_auth_hash(&updated), axum_login::AuthUser::session_auth_hash(&dan));
        assert_eq!(sessions_of(db, dan.id).await, 0);
        assert!(accounts::check_credentials(db, "dan", "another-good-pass-77", "10.0.0.4").await.is_ok());
        assert!(accounts::check_credentials(db, "dan", GOOD, "10.0.0.4").await.is_err());

        let profile = accounts::update_profile(db, &updated, "Dan D.", "dan@example.org", "zh").await.unwrap();
        assert_eq!(
            (profile.display_name.as_str(), profile.email.as_deref(), profile.language.as_str()),
            ("Dan D.", Some("dan@example.org"), "zh")
        );
        assert!(kind(accounts::update_profile(db, &updated, "Dan", "", "fr").await).contains("unknown language"));
        assert_eq!(accounts::set_language(db, &profile, "en").await.unwrap().language, "en");
        assert!(kind(accounts::set_language(db, &profile, "de").await).contains("unknown language"));
        let back = accounts::check_credentials(db, "dan", "another-good-pass-77", "10.0.0.4").await.unwrap();
        assert_eq!(
            (back.language.as_str(), back.display_name.as_str()),
            ("en", "Dan D."),
            "remembered, the rest untouched"
        );
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_users_but_never_remove_the_last_admin() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "admin", Role::Admin).await;
        let labeler = account(db, "lena", Role::Labeler).await;
        let eve = account(db, "eve", Role::User).await;
        for (who, expected) in [(None, "Unauthorized"), (Some(&eve), "Forbidden"), (Some(&labeler), "Forbidden")] {
            assert!(kind(users::list_users(db, who, "", 0, 10).await).starts_with(expected));
            assert!(kind(users::set_role(db, who, eve.id, Role::Admin, None).await).starts_with(expected));
        }
        let page = users::list_users(db, Some(&admin), "", 0, 2).await.unwrap();
        assert_eq!((page.total, page.users.len()), (3, 2));
        assert_eq!(page.users[0].username, "admin");
        let found = users::list_users(db, Some(&admin), "LEN", 0, 10).await.unwrap();
        assert_eq!(found.users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["lena"]);
        assert_eq!(users::list_users(db, Some(&admin), "%", 0, 10).await.unwrap().total, 0, "wildcards are literal");

        assert!(
            kind(users::set_role(db, Some(&admin), admin.id, Role::User, None).await).contains("last administrator")
        );
        assert!(kind(users::set_active(db, Some(&admin), admin.id, false, None).await).contains("last administrator"));
        users::set_role(db, Some(&admin), eve.id, Role::Labeler, None).await.unwrap();

        fake_session(db, "eve-1", eve.id).await;
        users::set_active(db, Some(&admin), eve.id, false, None).await.unwrap();
        assert_eq!(sessions_of(db, eve.id).await, 0, "disabling ends sessions at once");
        assert!(kind(accounts::check_credentials(db, "eve", GOOD, "10.0.0.5").await).contains("disabled"));
        users::set_active(db, Some(&admin), eve.id, true, None).await.unwrap();
        users::reset_password(db, Some(&admin), eve.id, "reset-by-admin-5551", None).await.unwrap();
        assert!(accounts::check_credentials(db, "eve", "reset-by-admin-5551", "10.0.0.5").await.is_ok());

        let log = audit::list(db, Some(&admin), 0, 100).await.unwrap();
        for action in ["user.role_changed", "user.disabled", "user.enabled", "user.password_reset"] {
            assert!(log.events.iter().any(|e| e.action == action && e.actor == "admin"), "{action} audited");
        }
        t.close().await;
    }
}

async fn identification_of(db: &DatabaseConnection, user_id: i64, sha: &str) {
    identification::ActiveModel {
        created_at: Set(Utc::now()),
        user_id: Set(Some(user_id)),
        image_sha256: Set(sha.into()),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set("ladybug".into()),
        top_probability: Set(0.5),
        answer: Set("{}".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_removes_its_identifications_and_unshared_photos() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-del");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let admin = account(db, "admin", Role::Admin).await;
        let fay = account(db, "fay", Role::User).await;
        let own = photos.put(b"fay's own photo").await.unwrap();
        let shared = photos.put(b"a photo two people sent").await.unwrap();
        identification_of(db, fay.id, &own).await;
        identification_of(db, fay.id, &shared).await;
        identification_of(db, admin.id, &shared).await;

        assert!(kind(accounts::delete_own_account(db, &photos, &fay, "not-her-password", None).await)
            .contains("password is wrong"));
        accounts::delete_own_account(db, &photos, &fay, GOOD, None).await.unwrap();
        assert!(user::Entity::find_by_id(fay.id).one(db).await.unwrap().is_none());
        assert_eq!(
            identification::Entity::find().filter(identification::Column::UserId.eq(fay.id)).count(db).await.unwrap(),
            0
        );
        assert!(!photos.contains(&own).await.unwrap(), "her own photo is gone");
        assert!(photos.contains(&shared).await.unwrap(), "a photo someone else's identification uses stays");
        assert!(
            kind(accounts::delete_own_account(db, &photos, &admin, GOOD, None).await).contains("last administrator")
        );

        let gus = account(db, "gus", Role::User).await;
        let unconfirmed = users::delete_user(db, &photos, Some(&admin), gus.id, false, None).await.unwrap_err();
        assert_eq!(unconfirmed.kind(), ErrorKind::InvalidInput);
        let stranger = users::delete_user(db, &photos, None, gus.id, false, None).await.unwrap_err();
        assert_eq!(stranger.kind(), ErrorKind::Unauthorized, "who asks is checked before the form");
        users::delete_user(db, &photos, Some(&admin), gus.id, true, None).await.unwrap();
        assert!(kind(users::delete_user(db, &photos, Some(&admin), admin.id, true, None).await)
            .contains("last administrator"));
        assert!(kind(users::delete_user(db, &photos, Some(&admin), 999_999, true, None).await).starts_with("NotFound"));
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_accounts_is_throttled() {
    for t in insectid::testing::test_databases().await {
        let db = &t.db;
        accounts::sign_up(db, form("hana", GOOD), true, None).await.unwrap();
        for i in 0..accounts::MAX_FAILURES_PER_ADDRESS {
            let r = accounts::check_credentials(db, &format!("guess{i}"), "wrong-password-1", "192.0.2.7").await;
            assert!(kind(r).starts_with("Unauthorized"));
        }
        let throttled = kind(accounts::check_credentials(db, "hana", GOOD, "192.0.2.7").await);
        assert!(throttled.contains("from your address"), "{throttled}");
        assert!(
            accounts::check_credentials(db, "hana", GOOD, "192.0.2.8").await.is_ok(),
            "another address is not affected"
        );
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_cannot_pass_the_throttle_together() {
    for t in test_databases().await {
        let db = &t.db;
        accounts::sign_up(db, form("ivy", GOOD), true, None).await.unwrap();
        // Each try is reserved before its password is checked: of ten sent at once, only the
        // free ones reach the password check (before, all ten passed the "< 5" test).
        let guesses = (0..10).map(|_| accounts::check_credentials(db, "ivy", "wrong-password-1", "198.51.100.4"));
        let outcomes: Vec<String> = futures::future::join_all(guesses).await.into_iter().map(kind).collect();
        let checked = outcomes.iter().filter(|k| !k.starts_with("TooManyRequests")).count() as u64;
        assert!((1..=accounts::FREE_FAILURES).contains(&checked), "{outcomes:?}");
        t.close().await;
    }
}

#[test]
fn the_delay_grows_after_the_free_failures_and_is_capped() {
    let seconds: Vec<i64> = (0..8).map(|n| accounts::delay_after(n).num_seconds()).collect();
    assert_eq!(seconds, [0, 0, 0, 1, 2, 4, 8, 16]);
    assert_eq!(accounts::delay_after(60).num_seconds(), accounts::MAX_DELAY_SECONDS);
}
