//! A photo's date and place (EXIF) are kept for a signed-in owner and shown to them alone;
//! an anonymous upload keeps none (SQLite and PostgreSQL).

mod common;

use common::account;
use insectid::auth::Role;
use insectid::inference::{EngineConfig, InferenceEngine};
use insectid::services::{history, identify};
use insectid::storage::PhotoStore;
use insectid::testing::{jpeg_with_place, test_databases, test_model_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_date_and_place_are_private_to_the_owner() {
    let engine = InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap();
    let photo: std::sync::Arc<[u8]> = jpeg_with_place().into();
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-context");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let admin = account(db, "root", Role::Admin).await;
        let mine =
            identify::identify_and_record(db, &engine, &photos, photo.clone(), &identify::Uploader::user(ann.id), 5)
                .await
                .unwrap();
        let seen =
            history::get(db, Some(&ann), mine.id.unwrap(), None).await.unwrap().context.expect("the owner sees it");
        assert_eq!(seen.taken_at.as_deref(), Some("2024-06-01 09:12:00"));
        let (lat, lon) = (seen.latitude.unwrap(), seen.longitude.unwrap());
        assert!((lat - 48.1253).abs() < 1e-3 && (lon - 7.5253).abs() < 1e-3, "{lat} {lon}");
        assert!(
            history::get(db, Some(&admin), mine.id.unwrap(), None).await.unwrap().context.is_none(),
            "not even an administrator"
        );
        let anonymous =
            identify::identify_and_record(db, &engine, &photos, photo.clone(), &identify::Uploader::anonymous(), 5)
                .await
                .unwrap();
        let key = anonymous.image_sha256.clone();
        assert!(
            history::get(db, None, anonymous.id.unwrap(), Some(&key)).await.unwrap().context.is_none(),
            "nothing kept for a link anyone may hold"
        );
        t.close().await;
    }
}
