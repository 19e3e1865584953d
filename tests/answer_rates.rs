//! "Answers like this were right N %": a model's latest evaluation in the portal wins over the
//! project's shipped measurement; a model nobody measured gets none (SQLite and PostgreSQL).

use chrono::Utc;
use insectid::entities::{job, model_version};
use insectid::jobs::results::EvaluateResult;
use insectid::jobs::{JobKind, JobState};
use insectid::services::answer_rates::{for_answer, RatesBasis};
use insectid::services::evaluation::headlines::{HeadlineKind, HeadlineRate};
use insectid::testing::test_databases;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

async fn version(db: &DatabaseConnection, name: &str, version: &str) -> i64 {
    let row = model_version::ActiveModel {
        name: Set(name.into()),
        version: Set(version.into()),
        dir: Set("/nonexistent".into()),
        source: Set(model_version::ModelSource::Default),
        description: Set(String::new()),
        classes: Set(1000),
        active: Set(true),
        created_at: Set(Utc::now()),
        activated_at: Set(None),
        shadow: Set(false),
        ..Default::default()
    };
    row.insert(db).await.unwrap().id
}

async fn evaluation(db: &DatabaseConnection, model_version_id: i64, dataset: &str, headlines: Vec<HeadlineRate>) {
    let result = EvaluateResult {
        model_version_id,
        model: "m".into(),
        dataset: dataset.into(),
        split: "val".into(),
        images: 10,
        failed: 0,
        top1: 0.5,
        top5: 0.9,
        expected_calibration_error: 0.1,
        per_class: vec![],
        calibration: vec![],
        seconds: 1.0,
        images_per_second: 10.0,
        files: vec![],
        headlines,
    };
    job::ActiveModel {
        kind: Set(JobKind::Evaluate),
        command: Set(String::new()),
        params: Set("{}".into()),
        state: Set(JobState::Succeeded),
        cancel_requested: Set(false),
        progress: Set("{}".into()),
        log: Set(String::new()),
        result: Set(serde_json::to_string(&result).unwrap()),
        error: Set(String::new()),
        created_by: Set(None),
        worker: Set(String::new()),
        attempts: Set(1),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_latest_evaluation_wins_over_the_shipped_measurement() {
    for t in test_databases().await {
        let db = &t.db;
        let default = ("efficientnet-lite0-imagenet", "1.1.0");
        // Nothing evaluated here: the project's measurement of the shipped bundle.
        let shipped = for_answer(db, default.0, default.1, HeadlineKind::Confident).await.unwrap().expect("shipped");
        assert!(matches!(shipped.basis, RatesBasis::Shipped { ref measured_on } if measured_on.contains("RP11 val")));
        assert!(shipped.rate.answers > 0 && shipped.rate.right <= shipped.rate.answers);
        assert!(for_answer(db, "somebody-elses-model", "1", HeadlineKind::Confident).await.unwrap().is_none());

        let id = version(db, default.0, default.1).await;
        let rate = |kind, answers, right| HeadlineRate { kind, answers, right };
        evaluation(db, id, "older@1", vec![rate(HeadlineKind::Confident, 10, 1)]).await;
        evaluation(db, id, "newer@1", vec![rate(HeadlineKind::Confident, 8, 6), rate(HeadlineKind::NoInsect, 2, 1)])
            .await;
        // Later still: one written before headlines existed, and another model's; both passed over.
        evaluation(db, id, "without@1", vec![]).await;
        let other = version(db, "another", "2").await;
        evaluation(db, other, "theirs@1", vec![rate(HeadlineKind::Confident, 4, 4)]).await;
        let found = for_answer(db, default.0, default.1, HeadlineKind::Confident).await.unwrap().unwrap();
        assert_eq!((found.rate.answers, found.rate.right), (8, 6));
        assert_eq!(found.basis, RatesBasis::Evaluation { dataset: "newer@1".into(), split: "val".into() });
        // A kind that evaluation never gave: the shipped measurement still speaks for it, and
        // for a model nobody measured, nothing does.
        let rolled = for_answer(db, default.0, default.1, HeadlineKind::RolledUp).await.unwrap().unwrap();
        assert!(matches!(rolled.basis, RatesBasis::Shipped { .. }), "{rolled:?}");
        assert!(for_answer(db, "another", "2", HeadlineKind::RolledUp).await.unwrap().is_none());
        t.close().await;
    }
}
