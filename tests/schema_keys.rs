//! The schema's foreign keys, on SQLite and PostgreSQL: a row cannot name a missing parent,
//! deleting a parent takes or unlinks what names it, and the migration that added the keys
//! repairs rows that broke a reference before (and can be rolled back).

use chrono::Utc;
use insectid::auth::{Account, Role};
use insectid::entities::{audit_event, feedback, identification, job, model_version, session, shadow_prediction};
use insectid::error::ErrorKind;
use insectid::services::{audit, history, models, users};
use insectid::storage::PhotoStore;
use insectid::testing::{test_databases, TempDir};
use insectid::ServiceError;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};

mod common;
use common::{account, clean, identified};

/// An id no row has.
const MISSING: i64 = 424_242;

fn feedback_on(identification_id: i64, user_id: i64, reviewed_by: Option<i64>) -> feedback::ActiveModel {
    feedback::ActiveModel {
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        identification_id: Set(identification_id),
        user_id: Set(user_id),
        image_sha256: Set("0".repeat(64)),
        model_version: Set("1".into()),
        model_label: Set("weevil".into()),
        kind: Set(feedback::FeedbackKind::Correct),
        label: Set(Some("weevil".into())),
        comment: Set(String::new()),
        state: Set(feedback::FeedbackState::Accepted),
        reason: Set(None),
        reviewed_by: Set(reviewed_by),
        reviewed_at: Set(reviewed_by.map(|_| Utc::now())),
        ..Default::default()
    }
}

async fn model(db: &DatabaseConnection, version: &str) -> model_version::Model {
    model_version::ActiveModel {
        name: Set("candidate".into()),
        version: Set(version.into()),
        dir: Set("/nonexistent".into()),
        source: Set(model_version::ModelSource::Default),
        description: Set(String::new()),
        classes: Set(3),
        active: Set(false),
        created_at: Set(Utc::now()),
        activated_at: Set(None),
        shadow: Set(true),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
}

async fn shadow(db: &DatabaseConnection, identification_id: i64, model_version_id: i64) -> Result<i64, DbErr> {
    shadow_prediction::ActiveModel {
        identification_id: Set(identification_id),
        model_version_id: Set(model_version_id),
        active_label: Set("weevil".into()),
        active_probability: Set(0.7),
        label: Set("weevil".into()),
        probability: Set(0.6),
        agrees: Set(true),
        millis: Set(3.0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|row| row.id)
}

async fn job_by(db: &DatabaseConnection, created_by: Option<i64>) -> job::Model {
    insectid::jobs::queue::enqueue(db, &clean(), "", created_by).await.unwrap()
}

fn says_foreign_key(err: DbErr) {
    let text = err.to_string().to_lowercase();
    assert!(text.contains("foreign key"), "a key refused it, not something else: {text}");
}

async fn count_shadows(db: &DatabaseConnection, identification_id: i64) -> usize {
    shadow_prediction::Entity::find()
        .filter(shadow_prediction::Column::IdentificationId.eq(identification_id))
        .all(db)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_cannot_name_missing_parents_and_go_or_unlink_with_them() {
    for t in test_databases().await {
        let db = &t.db;
        let store = TempDir::new("insectid-keys");
        let photos = PhotoStore::open(store.path()).unwrap();
        let admin = account(db, "root", Role::Admin).await;
        let ann = account(db, "ann", Role::User).await;
        let rev = account(db, "rev", Role::Labeler).await;
        let candidate = model(db, "2").await;
        let (photo, _) = identified(db, &photos, ann.id, 1, "weevil", 0.7).await;

        says_foreign_key(feedback_on(MISSING, ann.id, None).insert(db).await.unwrap_err());
        says_foreign_key(feedback_on(photo, MISSING, None).insert(db).await.unwrap_err());
        says_foreign_key(shadow(db, photo, MISSING).await.unwrap_err());
        says_foreign_key(shadow(db, MISSING, candidate.id).await.unwrap_err());
        says_foreign_key(
            job::ActiveModel { created_by: Set(Some(MISSING)), ..job_by(db, None).await.into() }
                .update(db)
                .await
                .unwrap_err(),
        );

        // Deleting an identification takes its feedback and shadow predictions (the service
        // removed the feedback itself and used to leave the shadow predictions behind).
        feedback_on(photo, ann.id, Some(rev.id)).insert(db).await.unwrap();
        shadow(db, photo, candidate.id).await.unwrap();
        history::delete(db, &photos, Some(&ann), photo).await.unwrap();
        assert_eq!(count_shadows(db, photo).await, 0, "{}: no shadow prediction outlives its photo", t.backend);

        // Deleting a model version takes the shadow predictions it made (the registry first
        // asks to stop shadow mode).
        let (kept, _) = identified(db, &photos, ann.id, 2, "bee", 0.8).await;
        shadow(db, kept, candidate.id).await.unwrap();
        let refused = models::delete(db, Some(&admin), candidate.id, None).await.unwrap_err();
        assert!(refused.to_string().contains("shadow mode"), "{refused}");
        model_version::Entity::delete_by_id(candidate.id).exec(db).await.unwrap();
        assert_eq!(count_shadows(db, kept).await, 0, "{}", t.backend);

        // Deleting an account keeps what it reviewed, started or did, without its id.
        let reviewed = feedback_on(kept, ann.id, Some(rev.id)).insert(db).await.unwrap();
        let started = job_by(db, Some(rev.id)).await;
        audit::record(db, audit::Actor::Account(&rev), "test.did", "x", "", None).await.unwrap();
        users::delete_user(db, &photos, Some(&admin), rev.id, true, None).await.unwrap();
        let reviewed = feedback::Entity::find_by_id(reviewed.id).one(db).await.unwrap().expect("feedback stays");
        assert_eq!(reviewed.reviewed_by, None, "{}", t.backend);
        let started = job::Entity::find_by_id(started.id).one(db).await.unwrap().expect("job stays");
        assert_eq!(started.created_by, None, "{}", t.backend);
        let did = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("test.did"))
            .one(db)
            .await
            .unwrap()
            .expect("audit stays");
        assert_eq!((did.actor_id, did.actor_name.as_str()), (None, "rev"), "{}", t.backend);

        // A write naming a row deleted meanwhile is a conflict, not a server fault.
        let raced: ServiceError = feedback_on(MISSING, ann.id, None).insert(db).await.unwrap_err().into();
        assert_eq!(raced.kind(), ErrorKind::Conflict, "{raced}");
        assert!(!raced.to_string().to_lowercase().contains("foreign"), "no database text: {raced}");

        // An administrator deleting their own account on the users page is audited by name.
        let other = account(db, "root2", Role::Admin).await;
        users::delete_user(db, &photos, Some(&other), other.id, true, None).await.unwrap();
        let gone = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("user.deleted"))
            .filter(audit_event::Column::Target.eq("root2"))
            .one(db)
            .await
            .unwrap()
            .expect("audited");
        assert_eq!((gone.actor_id, gone.actor_name.as_str()), (None, "root2"), "{}", t.backend);

        // A row deleted straight from the table (not through a service) still takes its own.
        sign_in_session(db, &ann).await;
        insectid::entities::user::Entity::delete_by_id(ann.id).exec(db).await.unwrap();
        assert!(identification::Entity::find_by_id(kept).one(db).await.unwrap().is_none(), "{}", t.backend);
        assert!(feedback::Entity::find_by_id(reviewed.id).one(db).await.unwrap().is_none(), "{}", t.backend);
        let sessions = session::Entity::find().filter(session::Column::UserId.eq(ann.id)).all(db).await.unwrap();
        assert!(sessions.is_empty(), "{}", t.backend);
        t.close().await;
    }
}

async fn sign_in_session(db: &DatabaseConnection, who: &Account) {
    session::ActiveModel {
        id: Set(format!("s-{}", who.id)),
        data: Set("{}".into()),
        user_id: Set(Some(who.id)),
        expires_at: Set(Utc::now() + chrono::Duration::hours(1)),
    }
    .insert(db)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_migration_repairs_broken_references_and_rolls_back() {
    for t in test_databases().await {
        let db = &t.db;
        let store = TempDir::new("insectid-keys-migration");
        let photos = PhotoStore::open(store.path()).unwrap();
        // Back to the schema before the keys (and the observation columns after them), which
        // let these rows in.
        common::migrate_down_to_before(db, "m20261202_000010_add_foreign_keys").await;
        let ann = account(db, "ann", Role::User).await;
        let (photo, _) = identified(db, &photos, ann.id, 1, "weevil", 0.7).await;
        let (lost, _) = identified(db, &photos, MISSING, 2, "bee", 0.7).await;
        let on_lost = feedback_on(lost, ann.id, None).insert(db).await.unwrap();
        let unlinked = feedback_on(photo, ann.id, Some(MISSING)).insert(db).await.unwrap();
        let orphan_shadow = shadow(db, MISSING, MISSING).await.unwrap();
        let orphan_job = job_by(db, Some(MISSING)).await;
        let (deleted, _) = identified(db, &photos, ann.id, 3, "moth", 0.7).await;
        identification::Entity::delete_by_id(deleted).exec(db).await.unwrap();

        Migrator::up(db, None).await.unwrap();

        let backend = t.backend;
        assert!(identification::Entity::find_by_id(lost).one(db).await.unwrap().is_none(), "{backend}");
        assert!(feedback::Entity::find_by_id(on_lost.id).one(db).await.unwrap().is_none(), "{backend}");
        let unlinked = feedback::Entity::find_by_id(unlinked.id).one(db).await.unwrap().expect("feedback kept");
        assert_eq!(unlinked.reviewed_by, None, "{backend}");
        assert!(shadow_prediction::Entity::find().all(db).await.unwrap().is_empty(), "{backend}");
        let orphan_job = job::Entity::find_by_id(orphan_job.id).one(db).await.unwrap().expect("job kept");
        assert_eq!(orphan_job.created_by, None, "{backend}");
        assert!(identification::Entity::find_by_id(photo).one(db).await.unwrap().is_some(), "{backend}");
        // The rebuilt tables keep their indexes (one feedback per person per photo) and do not
        // hand out a deleted row's id again.
        let twice = feedback_on(photo, ann.id, None).insert(db).await.unwrap_err().to_string().to_lowercase();
        assert!(twice.contains("unique"), "{backend}: {twice}");
        let (next, _) = identified(db, &photos, ann.id, 4, "moth", 0.7).await;
        assert!(next > deleted, "{backend}: id {next} after the deleted {deleted}");
        says_foreign_key(feedback_on(MISSING, ann.id, None).insert(db).await.unwrap_err());
        // A table the repair emptied keeps its id sequence too.
        let candidate = model(db, "3").await;
        let next_shadow = shadow(db, photo, candidate.id).await.unwrap();
        assert!(next_shadow > orphan_shadow, "{backend}: id {next_shadow} after the removed {orphan_shadow}");
        t.close().await;
    }
}
