//! Real jobs run by the runner: a fine-tune on generated photos, two evaluations compared side
//! by side, its int8 variant, a cancelled fine-tune resumed from its cache, and a dataset
//! download.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{account, clean, job_row as state};
use insectid::auth::Role;
use insectid::entities::model_version::ModelSource;
use insectid::inference::{Manifest, TestTime};
use insectid::jobs::queue;
use insectid::jobs::results::EvaluateResult;
use insectid::jobs::{JobResult, JobRunner, JobSpec, JobState, Progress, RunnerSettings};
use insectid::testing::{test_databases, test_model_dir};
use sea_orm::EntityTrait;

async fn pests(db: &sea_orm::DatabaseConnection, photos: &insectid::storage::PhotoStore, work: &std::path::Path) {
    insectid::testing::write_pest_folders(&work.join("source"));
    let import = insectid::services::dataset_import::start(db, "pests", &work.join("source"), 1).await.unwrap();
    insectid::services::dataset_import::run(db, photos, import.id, |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_fine_tunes_evaluates_and_compares() {
    let work_dir = insectid::testing::TempDir::new("insectid-jobs");
    let work = work_dir.path().to_path_buf();
    for t in test_databases().await {
        let db = &t.db;
        let ctx = common::job_context(db, &work.join(t.backend));
        let admin = account(db, "root", Role::Admin).await;
        let base =
            insectid::services::models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        pests(db, &ctx.photos, &work.join(t.backend)).await;
        let settings = RunnerSettings { heartbeat: Duration::from_millis(100), ..Default::default() };
        let runner = JobRunner::new(ctx.clone(), settings);
        assert!(!runner.run_next().await.unwrap(), "nothing queued");

        let spec = JobSpec::FineTune {
            dataset: "pests@1".into(),
            base_model: None,
            hidden: 0,
            epochs: 30,
            patience: 6,
            views: 3,
            unfreeze: None,
            test_time: TestTime::Flip,
        };
        let tune = queue::submit(db, Some(&admin), &spec, "fine-tune").await.unwrap();
        assert!(runner.run_next().await.unwrap());
        let tune = state(db, tune.id).await;
        assert_eq!(tune.state, JobState::Succeeded, "{} {}", tune.error, tune.log);
        let Some(JobResult::FineTune(result)) = JobResult::of(&tune) else { panic!("{}", tune.result) };
        assert!(result.best_val_accuracy > 0.5, "beats chance: {result:?}");
        let history = Progress::of(&tune).history;
        assert_eq!(history.len(), result.epochs, "every epoch is on the loss curve");
        let numbers: Vec<_> = history.iter().map(|p| p.epoch).collect();
        assert_eq!(numbers, (1..=history.len()).collect::<Vec<_>>(), "the blocks' epochs continue the head's");
        assert!(tune.log.contains("with it, on cached activations"), "the default second stage: {}", tune.log);
        assert!(tune.log.contains("18 train photos × 3 views") && tune.log.contains("epoch   1"), "{}", tune.log);
        assert!(!ctx.jobs_dir.join(tune.id.to_string()).join("cache").exists(), "the feature cache goes with success");
        let tuned = result.model_version_id;
        let row = insectid::entities::model_version::Entity::find_by_id(tuned).one(db).await.unwrap().unwrap();
        assert_eq!(Manifest::read(std::path::Path::new(&row.dir)).unwrap().test_time, TestTime::Flip);

        // Both models on the val split, then side by side.
        let mut evaluations = Vec::new();
        for model in [base.id, tuned] {
            let e = queue::submit(
                db,
                Some(&admin),
                &JobSpec::Evaluate { model, dataset: "pests@1".into(), split: "val".into() },
                "evaluate",
            )
            .await
            .unwrap();
            runner.run_next().await.unwrap();
            let e = state(db, e.id).await;
            assert_eq!(e.state, JobState::Succeeded, "{}", e.error);
            for file in ["confusion.png", "reliability.png", "report.json"] {
                assert!(insectid::jobs::reports::file(&ctx.jobs_dir, e.id, file).is_some(), "{file}");
            }
            evaluations.push(e);
        }
        assert!(insectid::jobs::reports::file(&ctx.jobs_dir, evaluations[0].id, "../../etc/passwd").is_none());
        let Some(JobResult::Evaluate(EvaluateResult { top1: tuned_top1, .. })) = JobResult::of(&evaluations[1]) else {
            panic!("{}", evaluations[1].result)
        };
        // The bundle averages each photo with its mirror, as its val figure did.
        let mirrored = result.mirror_val_accuracy.expect("the val figure with the mirror");
        assert!((tuned_top1 - mirrored).abs() < 1e-6, "evaluation agrees with training: {tuned_top1} {result:?}");
        assert!(tune.log.contains("averaged with its mirror"), "{}", tune.log);
        let c = insectid::jobs::reports::compare(db, Some(&admin), &ctx.jobs_dir, evaluations[0].id, evaluations[1].id)
            .await
            .unwrap();
        assert_eq!(c.photos, 9);
        assert_eq!(c.both_right + c.only_a_right + c.only_b_right + c.both_wrong, 9);
        assert!((c.b.top1 - tuned_top1).abs() < 1e-9);
        assert!(
            insectid::jobs::reports::compare(db, Some(&admin), &ctx.jobs_dir, tune.id, evaluations[0].id)
                .await
                .is_err(),
            "a fine-tune is not an evaluation"
        );
        if t.backend == "sqlite" {
            // The Python export is the same on both databases; once is enough for its cost.
            the_fine_tune_gets_an_int8_variant(&runner, db, &admin, tuned, tuned_top1).await;
        }

        // Maintenance jobs.
        for spec in [JobSpec::Vacuum {}, clean()] {
            let j = queue::submit(db, Some(&admin), &spec, "").await.unwrap();
            runner.run_next().await.unwrap();
            assert_eq!(state(db, j.id).await.state, JobState::Succeeded);
        }
        // A job that cannot work fails with the reason.
        let missing = queue::submit(
            db,
            Some(&admin),
            &JobSpec::Evaluate { model: 9999, dataset: "pests@1".into(), split: "val".into() },
            "",
        )
        .await
        .unwrap();
        runner.run_next().await.unwrap();
        let failed = state(db, missing.id).await;
        assert_eq!(failed.state, JobState::Failed);
        assert!(failed.error.contains("model version 9999"), "{}", failed.error);
    }
}

/// A real int8 export (the project's Python) of a fine-tuned version: installed beside it,
/// both evaluated, and an int8 version refused as a parent with the reason.
async fn the_fine_tune_gets_an_int8_variant(
    runner: &JobRunner,
    db: &sea_orm::DatabaseConnection,
    admin: &insectid::auth::Account,
    tuned: i64,
    tuned_top1: f64,
) {
    let spec = JobSpec::Quantize { model: tuned, dataset: "pests@1".into(), calibration: 16 };
    let job = queue::submit(db, Some(admin), &spec, "make-int8-model").await.unwrap();
    runner.run_next().await.unwrap();
    let job = state(db, job.id).await;
    assert_eq!(job.state, JobState::Succeeded, "{} {}", job.error, job.log);
    let Some(JobResult::Quantize(result)) = JobResult::of(&job) else { panic!("{}", job.result) };
    assert_eq!(result.calibration_photos, 16, "{result:?}");
    assert!((result.fp32_top1 - tuned_top1).abs() < 1e-6, "the parent evaluated as before: {result:?}");
    // Generated classes that differ by colour alone, 16 calibration photos, a head trained to
    // a temperature of a few hundredths: 8 bits may flip every answer here (measured both
    // ways on different CPUs), so accuracy is scripts/quantize_eval.py's to measure on rp11
    // photos. What the job must do is evaluate the int8 version it made.
    assert!((0.0..=1.0).contains(&result.int8_top1) && result.int8_images_per_second > 0.0, "{result:?}");
    assert!(job.log.contains("installed") && job.log.contains("val top-1"), "{}", job.log);
    let int8 =
        insectid::entities::model_version::Entity::find_by_id(result.model_version_id).one(db).await.unwrap().unwrap();
    assert!(!int8.active && int8.source == ModelSource::Int8);
    let manifest = insectid::inference::Manifest::read(std::path::Path::new(&int8.dir)).unwrap();
    assert_eq!(manifest.precision, insectid::inference::Precision::Int8);

    let again = queue::submit(
        db,
        Some(admin),
        &JobSpec::Quantize { model: int8.id, dataset: "pests@1".into(), calibration: 16 },
        "",
    )
    .await
    .unwrap();
    runner.run_next().await.unwrap();
    let again = state(db, again.id).await;
    assert_eq!(again.state, JobState::Failed);
    assert!(again.error.contains("int8 already"), "{}", again.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_fine_tune_stops_when_cancelled_and_resumes_from_its_cache() {
    let work_dir = insectid::testing::TempDir::new("insectid-jobs-cancel");
    let work = work_dir.path().to_path_buf();
    for t in test_databases().await {
        let db = &t.db;
        let ctx = common::job_context(db, &work.join(t.backend));
        let admin = account(db, "root", Role::Admin).await;
        insectid::services::models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        pests(db, &ctx.photos, &work.join(t.backend)).await;
        let runner = Arc::new(JobRunner::new(
            ctx.clone(),
            RunnerSettings { heartbeat: Duration::from_millis(50), ..Default::default() },
        ));
        // Sixteen views of every photo: long enough to be caught in the middle.
        let spec = JobSpec::FineTune {
            dataset: "pests@1".into(),
            base_model: None,
            hidden: 0,
            epochs: 20,
            patience: 5,
            views: 16,
            unfreeze: None,
            test_time: TestTime::None,
        };
        let j = queue::submit(db, Some(&admin), &spec, "fine-tune").await.unwrap();
        let run = tokio::spawn({
            let r = runner.clone();
            async move { r.run_next().await.unwrap() }
        });
        loop {
            let s = state(db, j.id).await;
            // Two of the sixteen views finished (18 photos each), the third begun.
            if Progress::of(&s).done.unwrap_or(0) > 36 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        queue::cancel(db, Some(&admin), j.id).await.unwrap();
        run.await.unwrap();
        let cancelled = state(db, j.id).await;
        assert_eq!(cancelled.state, JobState::Cancelled, "{} {}", cancelled.error, cancelled.log);
        let progress = Progress::of(&cancelled);
        assert!(progress.done.unwrap() < progress.total.unwrap(), "stopped part-way: {progress:?}");
        assert!(cancelled.log.contains("cancel requested; stopping at the next checkpoint"), "{}", cancelled.log);

        // Resumed, it takes the views it had finished from its cache and runs to the end.
        queue::resume(db, Some(&admin), j.id).await.unwrap();
        runner.run_next().await.unwrap();
        let done = state(db, j.id).await;
        assert_eq!((done.state, done.attempts), (JobState::Succeeded, 2), "{}", done.error);
        let resumed_log = &done.log[done.log.find("resumed by root").unwrap()..];
        assert!(
            resumed_log.contains("view 1 of 16 from the cache") && resumed_log.contains("view 2 of 16 from the cache"),
            "{resumed_log}"
        );
    }
}

/// A labeler's dataset download: queued by a request (one at a time), written by the runner as
/// one .zip into the job's folder, and handed only to its requester or an administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_download_is_queued_written_and_handed_to_its_requester() {
    use insectid::services::dataset_export;
    let work_dir = insectid::testing::TempDir::new("insectid-downloads");
    let work = work_dir.path().to_path_buf();
    for t in test_databases().await {
        let db = &t.db;
        let ctx = common::job_context(db, &work.join(t.backend));
        let admin = account(db, "root", Role::Admin).await;
        let lena = account(db, "lena", Role::Labeler).await;
        let lars = account(db, "lars", Role::Labeler).await;
        let ann = account(db, "ann", Role::User).await;
        pests(db, &ctx.photos, &work.join(t.backend)).await;
        fn kind<T>(r: Result<T, insectid::ServiceError>) -> insectid::error::ErrorKind {
            r.map(|_| ()).unwrap_err().kind()
        }
        assert_eq!(
            kind(dataset_export::request(db, Some(&ann), "pests@1", "ip102").await),
            insectid::error::ErrorKind::Forbidden
        );
        assert_eq!(
            kind(dataset_export::request(db, Some(&lena), "pests@9", "ip102").await),
            insectid::error::ErrorKind::NotFound
        );
        assert_eq!(
            kind(dataset_export::request(db, Some(&lena), "pests@1", "tar").await),
            insectid::error::ErrorKind::InvalidInput
        );
        let job = dataset_export::request(db, Some(&lena), "pests@1", "folders").await.unwrap();
        assert_eq!(
            dataset_export::request(db, Some(&lena), "pests@1", "ip102").await.unwrap().id,
            job.id,
            "one waiting at a time"
        );
        let not_yet = dataset_export::download(db, &ctx.jobs_dir, Some(&lena), job.id).await;
        assert_eq!(kind(not_yet), insectid::error::ErrorKind::Conflict);

        let runner =
            JobRunner::new(ctx.clone(), RunnerSettings { heartbeat: Duration::from_millis(100), ..Default::default() });
        assert!(runner.run_next().await.unwrap());
        assert_eq!(state(db, job.id).await.state, JobState::Succeeded);
        let (path, name) = dataset_export::download(db, &ctx.jobs_dir, Some(&lena), job.id).await.unwrap();
        assert_eq!(name, "pests-1-folders.zip");
        let archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(archive.len(), 27, "every photo of the version");
        assert!(!ctx.jobs_dir.join(job.id.to_string()).join("staging").exists(), "the staging folder is gone");
        assert!(
            dataset_export::download(db, &ctx.jobs_dir, Some(&admin), job.id).await.is_ok(),
            "an administrator may"
        );
        let other = dataset_export::download(db, &ctx.jobs_dir, Some(&lars), job.id).await;
        assert_eq!(kind(other), insectid::error::ErrorKind::NotFound, "another labeler is not told it exists");
        let listed = dataset_export::mine(db, &ctx.jobs_dir, Some(&lena), 10).await.unwrap();
        assert_eq!((listed.len(), listed[0].ready), (1, true));
        assert_eq!(dataset_export::remove_expired(&ctx.jobs_dir, Duration::ZERO).unwrap(), 1);
        assert_eq!(
            kind(dataset_export::download(db, &ctx.jobs_dir, Some(&lena), job.id).await),
            insectid::error::ErrorKind::NotFound,
            "expired"
        );
        t.close().await;
    }
}
