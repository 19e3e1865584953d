//! The integrity check finds what a crash can leave behind, and repair removes only that.

mod common;

use std::time::Duration;

use insectid::services::integrity;
use insectid::storage::PhotoStore;
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, Set};

async fn row(db: &sea_orm::DatabaseConnection, sha: &str) -> i64 {
    insectid::entities::identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(None),
        image_sha256: Set(sha.into()),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set("weevil".into()),
        top_probability: Set(0.5),
        answer: Set("{}".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_missing_photos_orphans_and_unfinished_writes() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-integrity");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let kept = photos.put(b"a photo with its row").await.unwrap();
        row(db, &kept).await;
        assert!(integrity::check(db, &photos).await.unwrap().is_clean());

        // A crash after the photo was stored but before its row committed, one mid-write,
        // and (what must never happen) a row whose photo is gone.
        let orphan = photos.put(b"a photo whose row never committed").await.unwrap();
        // object_store stages a write as NAME#N beside its target and renames it when complete.
        let staged = format!("{}#7", photos.local_path(&kept).unwrap().display());
        std::fs::write(&staged, b"half a photo").unwrap();
        let lost = photos.put(b"a photo deleted behind our back").await.unwrap();
        let lost_id = row(db, &lost).await;
        std::fs::remove_file(photos.local_path(&lost).unwrap()).unwrap();

        let report = integrity::check(db, &photos).await.unwrap();
        assert_eq!((report.identifications, report.photos), (2, 2));
        assert_eq!(report.rows_without_photo, vec![(lost_id, lost.clone())]);
        assert_eq!(report.orphan_photos, vec![orphan.clone()]);
        assert_eq!(report.temp_files.len(), 1);
        assert!(!report.is_clean());

        // Young leftovers may belong to an upload in progress: repair waits for the grace period.
        let spared = integrity::repair(db, &photos, Duration::from_secs(3600)).await.unwrap();
        assert_eq!((spared.removed, spared.orphan_photos.len(), spared.temp_files.len()), (0, 1, 1));
        let repaired = integrity::repair(db, &photos, Duration::ZERO).await.unwrap();
        assert_eq!(repaired.removed, 2);
        assert!(!photos.contains(&orphan).await.unwrap() && photos.contains(&kept).await.unwrap());
        let after = integrity::check(db, &photos).await.unwrap();
        assert!(after.orphan_photos.is_empty() && after.temp_files.is_empty());
        assert_eq!(after.rows_without_photo.len(), 1, "a lost photo is reported, not papered over");
        t.close().await;
    }
}

/// An upload of a photo racing a delete of the same photo never leaves a row without its
/// photo: the delete sets the photo aside and looks again, the upload stores it again when it
/// finds it gone after its commit. Before, the delete's check-then-remove could remove the
/// photo between the upload's store (skipped: the photo was there) and its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_racing_a_delete_of_the_same_photo_keeps_its_photo() {
    use insectid::entities::identification;
    use sea_orm::EntityTrait;
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-race");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let bytes = b"the same photo, sent while it is being deleted".to_vec();
        for round in 0..40u64 {
            // An earlier identification of the photo is being deleted ...
            let sha = photos.put(&bytes).await.unwrap();
            let old = row(db, &sha).await;
            identification::Entity::delete_by_id(old).exec(db).await.unwrap();
            // ... while the same photo is uploaded again (store, commit the row, make sure).
            let upload = async {
                tokio::time::sleep(Duration::from_micros(round * 150)).await;
                let sha = photos.put(&bytes).await.unwrap();
                let id = row(db, &sha).await;
                photos.ensure(&bytes).await.unwrap();
                id
            };
            let (id, _) = tokio::join!(upload, integrity::remove_if_unused(db, &photos, &sha));
            assert!(photos.contains(&sha).await.unwrap(), "round {round}: identification {id} lost its photo");
            identification::Entity::delete_by_id(id).exec(db).await.unwrap();
        }
        // Once nothing refers to it, it goes (set aside, looked at again, removed).
        let sha = photos.put(&bytes).await.unwrap();
        assert!(integrity::remove_if_unused(db, &photos, &sha).await.unwrap());
        assert!(!photos.contains(&sha).await.unwrap());
        assert!(photos.set_aside_leftovers().await.unwrap().is_empty(), "nothing left set aside");
        t.close().await;
    }
}

/// A labeler's vote racing the delete of the photo's last identification: either the vote is
/// counted and the photo kept, or the vote is refused and gone; never a vote without a photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_racing_the_last_identifications_delete_never_outlives_the_photo() {
    use insectid::entities::{identification, label_vote};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-vote-race");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let lena = common::account(db, "lena", insectid::auth::Role::Labeler).await;
        for round in 0..30u64 {
            let bytes = format!("photo of round {round}").into_bytes();
            let sha = photos.put(&bytes).await.unwrap();
            let id = row(db, &sha).await;
            let vote = async {
                tokio::time::sleep(Duration::from_micros(round * 200)).await;
                insectid::services::labels::vote(db, Some(&lena), &sha, Some("rice weevil"), 2).await
            };
            let delete = async {
                identification::Entity::delete_by_id(id).exec(db).await.unwrap();
                integrity::remove_if_unused(db, &photos, &sha).await.unwrap()
            };
            let (voted, _) = tokio::join!(vote, delete);
            let votes = label_vote::Entity::find()
                .filter(label_vote::Column::ImageSha256.eq(sha.clone()))
                .count(db)
                .await
                .unwrap();
            assert!(
                votes == 0 || photos.contains(&sha).await.unwrap(),
                "round {round}: a vote ({voted:?}) for a removed photo"
            );
        }
        t.close().await;
    }
}
