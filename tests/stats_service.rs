use chrono::{Duration, Utc};
use insectid::entities::identification;
use insectid::services::stats::{portal_stats, PortalStats};
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, Set};

async fn insert(db: &sea_orm::DatabaseConnection, sha: &str, days_ago: i64) {
    identification::ActiveModel {
        created_at: Set(Utc::now() - Duration::days(days_ago)),
        user_id: Set(None),
        image_sha256: Set(sha.repeat(64 / sha.len())),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set("ladybug".into()),
        top_probability: Set(0.9),
        answer: Set("{}".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert identification");
}

#[tokio::test]
async fn portal_stats_count_identifications_recent_ones_and_distinct_photos() {
    for t in test_databases().await {
        let empty = portal_stats(&t.db).await.unwrap();
        assert_eq!(
            empty,
            PortalStats { identifications: 0, identifications_last_7_days: 0, distinct_photos: 0 },
            "{}",
            t.backend
        );
        insert(&t.db, "a", 0).await;
        insert(&t.db, "a", 1).await;
        insert(&t.db, "b", 30).await;
        let stats = portal_stats(&t.db).await.unwrap();
        assert_eq!(
            stats,
            PortalStats { identifications: 3, identifications_last_7_days: 2, distinct_photos: 2 },
            "{}",
            t.backend
        );
        t.close().await;
    }
}
