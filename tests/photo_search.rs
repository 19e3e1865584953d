//! Search by text over identified photos: the image–text model's embedding of each recorded
//! photo is kept, and a query ranks them by cosine similarity, exactly as the bundle's own
//! embeddings rank them. SQLite and PostgreSQL (the server's scan), and PostgreSQL with
//! pgvector when `INSECTID_TEST_PGVECTOR_URL` names such a server (`make test` starts one).

mod common;

use std::sync::Arc;

use common::account;
use insectid::auth::Role;
use insectid::entities::photo_embedding;
use insectid::inference::{preprocess, EngineConfig, InferenceEngine, ModelBundle};
use insectid::services::identify::{identify_and_record, Uploader};
use insectid::services::photo_search::{search, SearchMethod, MAX_QUERY_CHARS};
use insectid::services::{history, photo_search};
use insectid::storage::PhotoStore;
use insectid::testing::{
    coloured_photo, test_databases, test_model_dir, tiny_image_text_bundle, TempDir, TestDatabase,
};
use insectid::ServiceError;
use sea_orm::{EntityTrait, PaginatorTrait};

const QUERY: &str = "a small green leafhopper on a rice leaf";

fn engine_on(dir: &std::path::Path) -> Arc<InferenceEngine> {
    Arc::new(InferenceEngine::start(dir, EngineConfig { threads: 1, ..Default::default() }).unwrap())
}

/// Every photo's similarity to the query by the bundle itself, computed apart from the server.
fn expected_similarities(photos: &[Vec<u8>]) -> Vec<f32> {
    let bundle = ModelBundle::load(&tiny_image_text_bundle(), tch::Device::Cpu).unwrap();
    let text = bundle.text_embeddings(&[QUERY]).unwrap().unwrap().remove(0);
    photos
        .iter()
        .map(|bytes| {
            let input = preprocess::prepare(bytes, bundle.preprocessing()).unwrap();
            let image = bundle.image_embeddings(&[&input]).unwrap().unwrap().remove(0);
            image.iter().zip(&text).map(|(a, b)| a * b).sum()
        })
        .collect()
}

/// SQLite, PostgreSQL, and PostgreSQL with pgvector (an error to lack, as PostgreSQL is,
/// unless `INSECTID_TEST_SKIP_PGVECTOR=1` leaves it out on purpose).
async fn databases() -> Vec<TestDatabase> {
    let mut all = test_databases().await;
    match std::env::var("INSECTID_TEST_PGVECTOR_URL") {
        Ok(url) if !url.is_empty() => {
            let mut with_vector = insectid::testing::postgres_database(&url).await;
            with_vector.backend = "pgvector";
            all.push(with_vector);
        }
        _ if std::env::var("INSECTID_TEST_SKIP_PGVECTOR").as_deref() == Ok("1") => {}
        _ => panic!("INSECTID_TEST_PGVECTOR_URL is not set: run `make test`, or set INSECTID_TEST_SKIP_PGVECTOR=1"),
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_found_by_text_in_the_models_order() {
    let tmp = TempDir::new("insectid-photo-search");
    let engine = engine_on(&tiny_image_text_bundle());
    let photos: Vec<Vec<u8>> = (0..6).map(|i| coloured_photo(i % 3, i as u32 * 17)).collect();
    let expected = expected_similarities(&photos);
    for t in databases().await {
        let db = &t.db;
        let store = PhotoStore::open(tmp.path().join(t.backend)).unwrap();
        let (alice, bob) = (account(db, "alice", Role::User).await, account(db, "bob", Role::User).await);
        let admin = account(db, "root", Role::Admin).await;
        let mut ids = Vec::new();
        for (i, photo) in photos.iter().enumerate() {
            let owner = if i < 3 { &alice } else { &bob };
            let uploader = Uploader::user(owner.id);
            let bytes: Arc<[u8]> = photo.clone().into();
            ids.push(identify_and_record(db, &engine, &store, bytes, &uploader, 3).await.unwrap().id.unwrap());
        }
        assert_eq!(photo_embedding::Entity::find().count(db).await.unwrap(), 6, "{}", t.backend);
        // A PostgreSQL server of one's own may have pgvector too.
        let methods: &[SearchMethod] = match t.backend {
            "pgvector" => &[SearchMethod::Pgvector],
            "sqlite" => &[SearchMethod::Scan],
            _ => &[SearchMethod::Scan, SearchMethod::Pgvector],
        };

        // Alice finds her own three, best first, with the bundle's own similarities.
        let found = search(db, &engine, Some(&alice), QUERY, 10).await.unwrap();
        assert!(methods.contains(&found.method), "{}: {:?}", t.backend, found.method);
        assert_eq!(found.model_name, "tiny-clip");
        let mut hers: Vec<usize> = (0..3).collect();
        hers.sort_by(|a, b| expected[*b].total_cmp(&expected[*a]));
        let got: Vec<i64> = found.hits.iter().map(|h| h.identification.id).collect();
        assert_eq!(got, hers.iter().map(|i| ids[*i]).collect::<Vec<_>>(), "{}", t.backend);
        for (hit, i) in found.hits.iter().zip(&hers) {
            assert!(
                (hit.similarity - expected[*i]).abs() < 1e-4,
                "{}: {} vs {}",
                t.backend,
                hit.similarity,
                expected[*i]
            );
            assert!(hit.identification.owned);
        }

        // An administrator searches everyone's; the limit holds.
        let all = search(db, &engine, Some(&admin), QUERY, 4).await.unwrap();
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by(|a, b| expected[*b].total_cmp(&expected[*a]));
        let got: Vec<i64> = all.hits.iter().map(|h| h.identification.id).collect();
        assert_eq!(got, order[..4].iter().map(|i| ids[*i]).collect::<Vec<_>>(), "{}", t.backend);

        // Refusals: nobody signed in, nothing to find, too long.
        let refused = search(db, &engine, None, QUERY, 10).await.unwrap_err();
        assert!(matches!(refused, ServiceError::Unauthorized(_)), "{refused}");
        let empty = search(db, &engine, Some(&alice), "   ", 10).await.unwrap_err();
        assert!(matches!(empty, ServiceError::InvalidInput(_)), "{empty}");
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        let too_long = search(db, &engine, Some(&alice), &long, 10).await.unwrap_err();
        assert!(matches!(too_long, ServiceError::InvalidInput(_)), "{too_long}");

        // A deleted identification takes its embedding with it.
        let gone = ids[hers[0]];
        history::delete(db, &store, Some(&alice), gone).await.unwrap();
        let after = search(db, &engine, Some(&alice), QUERY, 10).await.unwrap();
        assert_eq!(after.hits.len(), 2, "{}", t.backend);
        assert!(after.hits.iter().all(|h| h.identification.id != gone));
        assert_eq!(photo_embedding::Entity::find().count(db).await.unwrap(), 5, "{}", t.backend);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classifier_keeps_no_embeddings_and_cannot_search() {
    let tmp = TempDir::new("insectid-photo-search-classifier");
    let engine = engine_on(&test_model_dir());
    let t = test_databases().await.remove(0);
    let store = PhotoStore::open(tmp.path().join("photos")).unwrap();
    let alice = account(&t.db, "alice", Role::User).await;
    let bytes: Arc<[u8]> = coloured_photo(1, 3).into();
    identify_and_record(&t.db, &engine, &store, bytes, &Uploader::user(alice.id), 3).await.unwrap();
    assert_eq!(photo_embedding::Entity::find().count(&t.db).await.unwrap(), 0);
    let err = photo_search::search(&t.db, &engine, Some(&alice), QUERY, 10).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("image–text model"), "{err}");
}

#[test]
fn versions_that_only_describe_classes_share_an_embedding_space() {
    use insectid::inference::image_text::embedding_space;
    use insectid::inference::Manifest;
    let manifest = Manifest::read(&tiny_image_text_bundle()).unwrap();
    let mut described = manifest.clone();
    described.version = format!("{}+described.7", manifest.version);
    described.labels[0].prompts.push("a photo of a tiny green caterpillar.".into());
    assert_eq!(embedding_space(&described), embedding_space(&manifest), "photos stay searchable");
    let mut retrained = manifest.clone();
    retrained.sha256.insert(manifest.files.model.clone(), "0".repeat(64));
    assert_ne!(embedding_space(&retrained), embedding_space(&manifest), "another image encoder");
    let mut resized = manifest.clone();
    resized.resize_shorter += 8;
    assert_ne!(embedding_space(&resized), embedding_space(&manifest), "photos prepared otherwise");
}
