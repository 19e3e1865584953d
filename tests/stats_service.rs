use chrono::{Duration, Utc};
use insectid::entities::identification;
use insectid::services::stats::{portal_stats, PortalStats, PortalStatsCache};
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

#[tokio::test]
async fn the_home_figures_are_counted_again_only_once_they_are_older_than_their_max_age() {
    for t in test_databases().await {
        let kept = PortalStatsCache::new(std::time::Duration::from_secs(3600));
        let short = PortalStatsCache::new(std::time::Duration::from_millis(50));
        let always = PortalStatsCache::new(std::time::Duration::ZERO);
        for cache in [&kept, &short, &always] {
            assert_eq!(cache.get(&t.db).await.unwrap().identifications, 0, "{}", t.backend);
        }
        insert(&t.db, "c", 0).await;
        assert_eq!(kept.get(&t.db).await.unwrap().identifications, 0, "{}: within its max age", t.backend);
        assert_eq!(
            always.get(&t.db).await.unwrap().identifications,
            1,
            "{}: max age zero counts every time",
            t.backend
        );
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        assert_eq!(short.get(&t.db).await.unwrap().identifications, 1, "{}: counted again once older", t.backend);
        // Many views at once while the figures are stale: all get the new count.
        insert(&t.db, "d", 0).await;
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let views = futures::future::join_all((0..8).map(|_| short.get(&t.db))).await;
        assert!(views.iter().all(|v| v.as_ref().unwrap().identifications == 2), "{}: {views:?}", t.backend);
        t.close().await;
    }
}
