//! Who may see and delete identifications, on SQLite and PostgreSQL.

use insectid::auth::Role;
use insectid::error::ErrorKind;
use insectid::services::history;
use insectid::storage::PhotoStore;
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, Set};

mod common;
use common::account;

async fn record(
    db: &sea_orm::DatabaseConnection,
    photos: &PhotoStore,
    owner: Option<i64>,
    bytes: &[u8],
    label: &str,
) -> (i64, String) {
    let sha = photos.put(bytes).await.unwrap();
    let identified = serde_json::json!({
        "id": null, "image_sha256": sha, "model_name": "m", "model_version": "1",
        "answer": { "top": [{ "index": 1, "label": label, "probability": 0.7, "taxon_key": null }],
                    "verdict": { "kind": "no_insect", "arthropod_probability": 0.01 }, "arthropod_probability": 0.01 },
        "summary": "no insect found", "timings": { "preprocess_ms": 1.0, "inference_ms": 2.0, "total_ms": 3.0 }, "batch_size": 1
    });
    let row = insectid::entities::identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(owner),
        image_sha256: Set(sha.clone()),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set(label.into()),
        top_probability: Set(0.7),
        answer: Set(identified.to_string()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    (row.id, sha)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifications_are_seen_and_deleted_only_by_those_allowed() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-hist");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let bob = account(db, "bob", Role::User).await;
        let admin = account(db, "root", Role::Admin).await;
        let (mine, my_sha) = record(db, &photos, Some(ann.id), b"ann photo", "ladybug").await;
        let (other, _) = record(db, &photos, Some(ann.id), b"ann second", "weevil").await;
        let (anon, anon_sha) = record(db, &photos, None, b"anonymous photo", "bee").await;

        assert!(history::get(db, Some(&ann), mine, None).await.unwrap().owned);
        assert!(history::get(db, Some(&admin), mine, None).await.is_ok());
        for (who, key) in [(Some(&bob), None), (None, None), (None, Some(my_sha.as_str()))] {
            let err = history::get(db, who, mine, key).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "hidden, not forbidden");
        }
        assert!(history::get(db, None, anon, Some(&anon_sha)).await.is_ok(), "the uploader's link works");
        for key in [None, Some("0000")] {
            let err = history::get(db, None, anon, key).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "an anonymous upload needs its own link: {key:?}");
        }

        let page = history::list(db, Some(&ann), &Default::default(), 0, 10).await.unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.items[0].id, other, "newest first");
        assert_eq!(
            history::list(
                db,
                Some(&ann),
                &history::HistoryFilter { label: "lady".into(), ..Default::default() },
                0,
                10
            )
            .await
            .unwrap()
            .total,
            1
        );
        assert_eq!(history::list(db, Some(&bob), &Default::default(), 0, 10).await.unwrap().total, 0);
        assert_eq!(
            history::list(db, None, &Default::default(), 0, 10).await.unwrap_err().kind(),
            ErrorKind::Unauthorized
        );

        let err = history::delete(db, &photos, Some(&bob), mine).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "someone else's is hidden, not forbidden");
        history::delete(db, &photos, Some(&ann), mine).await.unwrap();
        assert!(!photos.contains(&my_sha).await.unwrap(), "its photo went with it");
        assert_eq!(history::get(db, Some(&ann), mine, None).await.unwrap_err().kind(), ErrorKind::NotFound);
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_species_page_lists_only_the_callers_own_sightings() {
    use insectid::services::species;
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-sight");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let bob = account(db, "bob", Role::User).await;
        let stemfly = species::get("ip102-7").unwrap();
        let (first, _) = record(db, &photos, Some(ann.id), b"stem fly one", "Rice Stemfly").await;
        // A model may spell the class in another case; it is the same species.
        let (second, _) = record(db, &photos, Some(ann.id), b"stem fly two", "rice stemfly").await;
        record(db, &photos, Some(ann.id), b"a weevil", "weevil").await;
        record(db, &photos, Some(bob.id), b"bob's fly", "Rice Stemfly").await;
        record(db, &photos, None, b"anonymous fly", "Rice Stemfly").await;

        let seen: Vec<i64> =
            species::sightings(db, Some(&ann), stemfly, 10).await.unwrap().iter().map(|v| v.id).collect();
        assert_eq!(seen, [second, first], "hers, newest first, whatever the case");
        assert_eq!(species::sightings(db, Some(&bob), stemfly, 10).await.unwrap().len(), 1);
        assert!(species::sightings(db, None, stemfly, 10).await.unwrap().is_empty());
        assert_eq!(species::sightings(db, Some(&ann), stemfly, 1).await.unwrap().len(), 1);
        assert_eq!(species::get("ip102-999").unwrap_err().kind(), insectid::error::ErrorKind::NotFound);
        t.close().await;
    }
}
