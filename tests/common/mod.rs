//! Helpers shared by the integration tests: accounts with a role, recorded identifications.
#![allow(dead_code)] // each test binary uses its own part

use insectid::auth::{Account, Role};
use insectid::entities::{identification, user};
use insectid::services::accounts;
use insectid::storage::PhotoStore;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

const GOOD: &str = "violet-moth-harvest-42";

pub async fn account(db: &DatabaseConnection, name: &str, role: Role) -> Account {
    let created = accounts::sign_up(
        db,
        accounts::SignUp {
            username: name.into(),
            display_name: String::new(),
            email: String::new(),
            password: GOOD.into(),
        },
        true,
        None,
    )
    .await
    .unwrap();
    let mut row: user::ActiveModel = created.into();
    row.role = Set(role);
    row.update(db).await.unwrap();
    accounts::check_credentials(db, name, GOOD, "10.2.2.2").await.unwrap()
}

/// An identification of a generated photo: its id and the photo's digest.
pub async fn identified(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    owner: i64,
    seed: u8,
    label: &str,
    p: f64,
) -> (i64, String) {
    let png = insectid::testing::png(40, 30, |x, y| [seed, x as u8, y as u8]);
    let sha = photos.put(&png).await.unwrap();
    let answer = serde_json::json!({
        "id": null, "image_sha256": sha, "model_name": "m", "model_version": "1",
        "answer": { "top": [{ "index": 0, "label": label, "probability": p, "taxon_key": null }, { "index": 1, "label": "weevil", "probability": 0.01, "taxon_key": null }],
                    "verdict": { "kind": "uncertain", "arthropod_probability": 0.9 }, "arthropod_probability": 0.9 },
        "summary": "x", "timings": { "preprocess_ms": 1.0, "inference_ms": 1.0, "total_ms": 2.0 }, "batch_size": 1
    });
    let row = identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(Some(owner)),
        image_sha256: Set(sha.clone()),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set(label.into()),
        top_probability: Set(p),
        answer: Set(answer.to_string()),
        ..Default::default()
    };
    // Inserted without reading the row back, so it works on older schemas too (migration tests).
    let id = identification::Entity::insert(row).exec(db).await.unwrap().last_insert_id;
    (id, sha)
}

/// A clean-up job (quick, and nothing to clean in a test's store).
pub fn clean() -> insectid::jobs::JobSpec {
    insectid::jobs::JobSpec::CleanFiles { grace_minutes: 60 }
}

/// A job's row as stored now.
pub async fn job_row(db: &DatabaseConnection, id: i64) -> insectid::entities::job::Model {
    use sea_orm::EntityTrait;
    insectid::entities::job::Entity::find_by_id(id).one(db).await.unwrap().unwrap()
}

/// Rolls the schema back to just before the named migration (and those after it).
pub async fn migrate_down_to_before(db: &DatabaseConnection, name: &str) {
    use migration::{Migrator, MigratorTrait};
    let steps = Migrator::migrations().iter().rev().position(|m| m.name() == name).expect("a known migration") + 1;
    Migrator::down(db, Some(steps as u32)).await.unwrap();
}

/// Gives an identification a date and place, a verdict kind and a sharing choice.
pub async fn set_observation(
    db: &DatabaseConnection,
    id: i64,
    context: insectid::storage::metadata::PhotoContext,
    verdict: identification::VerdictKind,
    shared: bool,
) {
    use sea_orm::IntoActiveModel;
    let mut row = identification::Entity::find_by_id(id).one(db).await.unwrap().unwrap().into_active_model();
    row.taken_at = Set(context.taken_at);
    row.latitude = Set(context.latitude);
    row.longitude = Set(context.longitude);
    row.verdict = Set(verdict);
    row.shared = Set(shared);
    row.update(db).await.unwrap();
}

/// A job runner's context with its folders under `work` (made here) and a one-thread engine.
pub fn job_context(db: &DatabaseConnection, work: &std::path::Path) -> insectid::jobs::JobContext {
    let dir = |name: &str| {
        let d = work.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    insectid::jobs::JobContext {
        db: db.clone(),
        photos: PhotoStore::open(dir("photos")).unwrap(),
        models_dir: dir("models"),
        jobs_dir: dir("jobs"),
        import_dir: dir("imports"),
        export_dir: dir("exports"),
        engine: insectid::inference::EngineConfig { threads: 1, ..Default::default() },
        python: insectid::testing::test_python(),
        shadow: Default::default(),
    }
}
