//! Anonymous identifications past their retention period are swept with their photos; what
//! signed-in people sent, and photos something else uses, stay (SQLite and PostgreSQL).

mod common;

use common::{account, identified};
use insectid::auth::Role;
use insectid::entities::identification;
use insectid::services::{labels, retention};
use insectid::storage::PhotoStore;
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};

async fn make_anonymous(db: &sea_orm::DatabaseConnection, id: i64, days_ago: i64) {
    let mut row = identification::Entity::find_by_id(id).one(db).await.unwrap().unwrap().into_active_model();
    row.user_id = Set(None);
    row.created_at = Set(chrono::Utc::now() - chrono::Duration::days(days_ago));
    row.update(db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_anonymous_identifications_go_with_photos_no_one_else_uses() {
    for t in test_databases().await {
        let db = &t.db;
        let root_dir = insectid::testing::TempDir::new("insectid-retention");
        let root = root_dir.path().to_path_buf();
        let photos = PhotoStore::open(&root).unwrap();
        let ann = account(db, "ann", Role::User).await;
        let lena = account(db, "lena", Role::Labeler).await;
        let (old, old_sha) = identified(db, &photos, ann.id, 1, "weevil", 0.4).await;
        let (recent, recent_sha) = identified(db, &photos, ann.id, 2, "weevil", 0.4).await;
        let (labelled, labelled_sha) = identified(db, &photos, ann.id, 3, "weevil", 0.4).await;
        let (mine, mine_sha) = identified(db, &photos, ann.id, 4, "weevil", 0.4).await;
        make_anonymous(db, old, 40).await;
        make_anonymous(db, recent, 2).await;
        make_anonymous(db, labelled, 40).await;
        labels::vote(db, Some(&lena), &labelled_sha, Some("rice weevil"), 1).await.unwrap();

        let swept = retention::sweep_anonymous(db, &photos, chrono::Duration::days(30)).await.unwrap();
        assert_eq!((swept.identifications, swept.photos), (2, 1), "two old anonymous rows, one photo no one else uses");
        assert!(identification::Entity::find_by_id(old).one(db).await.unwrap().is_none());
        assert!(!photos.contains(&old_sha).await.unwrap(), "its photo went with it");
        assert!(photos.contains(&labelled_sha).await.unwrap(), "a labelled photo stays for datasets");
        for (id, sha) in [(recent, &recent_sha), (mine, &mine_sha)] {
            assert!(
                identification::Entity::find_by_id(id).one(db).await.unwrap().is_some(),
                "recent or signed-in: kept"
            );
            assert!(photos.contains(sha).await.unwrap());
        }
        assert_eq!(
            retention::sweep_anonymous(db, &photos, chrono::Duration::days(30)).await.unwrap().identifications,
            0,
            "nothing twice"
        );
        assert_eq!(identification::Entity::find().count(db).await.unwrap(), 2);
        t.close().await;
    }
}
