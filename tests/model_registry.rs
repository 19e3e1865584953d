//! Installing, activating, rolling back and deleting model versions, with the real engine.

mod common;

use std::io::Write;
use std::path::Path;

use common::account;
use insectid::auth::Role;
use insectid::entities::model_version::ModelSource;
use insectid::inference::{EngineConfig, InferenceEngine, TestTime};
use insectid::services::models;
use insectid::testing::{test_databases, test_model_dir};

/// The default bundle as a .zip, under another version (and optionally broken).
fn bundle_zip(out: &Path, version: &str, break_labels: bool) {
    let dir = test_model_dir();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["version"] = version.into();
    if break_labels {
        manifest["labels"].as_array_mut().unwrap().truncate(10);
    }
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("bundle/manifest.json", opts).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    for file in ["model.pt", "features.pt", "cam_features.pt", "cam_head.pt"] {
        zip.start_file(format!("bundle/{file}"), opts).unwrap();
        zip.write_all(&std::fs::read(dir.join(file)).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_install_activate_roll_back_and_delete() {
    let work_dir = insectid::testing::TempDir::new("insectid-models");
    let work = work_dir.path().to_path_buf();
    std::fs::create_dir_all(&work).unwrap();
    let engine = std::sync::Arc::new(
        InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap(),
    );
    bundle_zip(&work.join("good.zip"), "2.0.0-test", false);
    bundle_zip(&work.join("broken.zip"), "3.0.0-test", true);
    std::fs::write(work.join("junk.zip"), b"not a zip").unwrap();
    for t in test_databases().await {
        let db = &t.db;
        let models_dir = work.join(format!("models-{}", t.backend));
        std::fs::create_dir_all(&models_dir).unwrap();
        let admin = account(db, "root", Role::Admin).await;
        let user = account(db, "ann", Role::User).await;
        let first = models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        assert!(first.active);
        assert_eq!(
            models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap().id,
            first.id,
            "recorded once"
        );

        assert_eq!(
            models::install_zip(db, Some(&user), &models_dir, &work.join("good.zip"), None).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Forbidden
        );
        let err = models::install_zip(db, Some(&admin), &models_dir, &work.join("broken.zip"), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused") && err.contains("does not match 10 labels"), "{err}");
        assert!(models::install_zip(db, Some(&admin), &models_dir, &work.join("junk.zip"), None)
            .await
            .unwrap_err()
            .to_string()
            .contains("not a readable .zip"));
        let second = models::install_zip(db, Some(&admin), &models_dir, &work.join("good.zip"), None).await.unwrap();
        assert_eq!((second.version.as_str(), second.active, second.classes), ("2.0.0-test", false, 1000));
        assert_eq!(
            models::install_zip(db, Some(&admin), &models_dir, &work.join("good.zip"), None).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Conflict
        );
        assert_eq!(std::fs::read_dir(&models_dir).unwrap().count(), 1, "refused bundles leave nothing behind");

        models::activate(db, &engine, Some(&admin), second.id, None).await.unwrap();
        assert_eq!(engine.active().status.version, "2.0.0-test", "the engine answers with the new version");
        assert_eq!(
            models::delete(db, Some(&admin), second.id, None).await.unwrap_err().kind(),
            insectid::error::ErrorKind::Conflict,
            "never the active one"
        );
        let listed = models::list(db, Some(&admin)).await.unwrap();
        assert_eq!(listed.iter().filter(|v| v.model.active).map(|v| v.model.id).collect::<Vec<_>>(), [second.id]);

        let back = models::rollback(db, &engine, Some(&admin), None).await.unwrap();
        assert_eq!(back.id, first.id);
        assert_eq!(engine.active().status.version, "1.1.0");
        models::delete(db, Some(&admin), second.id, None).await.unwrap();
        assert!(!Path::new(&second.dir).exists(), "its files are gone");
        assert_eq!(models::list(db, Some(&admin)).await.unwrap().len(), 1);
        t.close().await;
    }
}

/// The default bundle's folder is rebuilt in place when a new version of it ships: the older
/// version's entry then names a folder holding another version, and must not answer as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_whose_folder_was_rebuilt_as_another_is_refused() {
    let work_dir = insectid::testing::TempDir::new("insectid-rebuilt");
    let default = work_dir.path().join("default");
    std::fs::create_dir_all(&default).unwrap();
    for file in ["manifest.json", "model.pt", "features.pt", "cam_features.pt", "cam_head.pt"] {
        std::fs::copy(test_model_dir().join(file), default.join(file)).unwrap();
    }
    let set_version = |version: &str| {
        let path = default.join("manifest.json");
        let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        manifest["version"] = version.into();
        std::fs::write(&path, manifest.to_string()).unwrap();
    };
    set_version("1.0.0");
    let engine = std::sync::Arc::new(
        InferenceEngine::start(&default, EngineConfig { threads: 1, ..Default::default() }).unwrap(),
    );
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        set_version("1.0.0");
        let old = models::record_startup(db, &default, ModelSource::Default).await.unwrap();
        set_version("1.1.0");
        let new = models::record_startup(db, &default, ModelSource::Default).await.unwrap();
        assert!(new.active && new.id != old.id);

        let err = models::activate(db, &engine, Some(&admin), old.id, None).await.unwrap_err();
        assert_eq!(err.kind(), insectid::error::ErrorKind::Conflict);
        assert!(err.to_string().contains("1.0.0 is gone: its folder now holds"), "{err}");
        let err = models::rollback(db, &engine, Some(&admin), None).await.unwrap_err();
        assert_eq!(err.kind(), insectid::error::ErrorKind::Conflict, "{err}");
        assert!(models::engine_for(&old, EngineConfig::default()).await.is_err(), "nor evaluated as itself");
        assert_eq!(models::active(db).await.unwrap().unwrap().id, new.id, "nothing changed");
        models::delete(db, Some(&admin), old.id, None).await.unwrap();
        assert!(default.join("model.pt").is_file(), "deleting the stale entry keeps the shared folder");
        t.close().await;
    }
}

/// The loop at service level: a dataset version → fine-tune → a new inactive version
/// that beats chance → activated → identifications report it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fine_tuned_version_is_installed_activated_and_answers() {
    use insectid::services::{dataset_import, fine_tune, identify};
    let work_dir = insectid::testing::TempDir::new("insectid-ft");
    let work = work_dir.path().to_path_buf();
    insectid::testing::write_pest_folders(&work.join("source"));
    let engine = std::sync::Arc::new(
        InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap(),
    );
    for t in test_databases().await {
        let db = &t.db;
        let photos = insectid::storage::PhotoStore::open(work.join(format!("photos-{}", t.backend))).unwrap();
        let models_dir = work.join(format!("models-{}", t.backend));
        std::fs::create_dir_all(&models_dir).unwrap();
        let admin = account(db, "root", Role::Admin).await;
        models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        let job = dataset_import::start(db, "pests", &work.join("source"), 1).await.unwrap();
        dataset_import::run(db, &photos, job.id, |_| {}).await.unwrap();

        let config = insectid::training::HeadConfig { hidden: 0, max_epochs: 30, patience: 6, ..Default::default() };
        let counter = std::sync::Arc::new(EpochCounter::default());
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let options = fine_tune::FineTuneOptions {
            head: config,
            views: 2,
            cache_dir: None,
            unfreeze_blocks: Some(0),
            unfreeze_epochs: 0,
            test_time: TestTime::None,
        };
        let result =
            fine_tune::run(db, &photos, &test_model_dir(), &models_dir, "pests@1", options, cancel, counter.clone())
                .await
                .unwrap();
        assert!(result.best_val_accuracy > 0.5, "beats chance (1/3): {}", result.best_val_accuracy);
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), result.history.len());
        assert_eq!((result.model.source.as_str(), result.model.active, result.model.classes), ("fine-tune", false, 3));

        models::activate(db, &engine, Some(&admin), result.model.id, None).await.unwrap();
        // Evaluated on its val split: top-1, per class, and how well its confidence is calibrated.
        let val = insectid::services::evaluation::from_dataset_version(db, &photos, "pests@1", "val").await.unwrap();
        assert_eq!((val.classes.len(), val.samples.len()), (3, 9));
        let report = insectid::services::evaluation::evaluate(&engine, &val, 4, |_, _| {}).await.unwrap();
        assert!(
            (report.top1 - result.best_val_accuracy).abs() < 1e-6,
            "the engine agrees with training: {} vs {}",
            report.top1,
            result.best_val_accuracy
        );
        assert_eq!(report.calibration.iter().map(|b| b.count).sum::<u32>(), 9);
        assert!((0.0..=1.0).contains(&report.expected_calibration_error));
        assert!(insectid::services::evaluation::from_dataset_version(db, &photos, "pests@1", "test")
            .await
            .unwrap_err()
            .to_string()
            .contains("no photos in its test split"));
        let answer =
            identify::identify_photo(&engine, insectid::testing::coloured_photo(1, 500).into(), 3).await.unwrap();
        assert_eq!(answer.model_version, result.model.version, "the new version answers");
        assert_eq!(answer.answer.top[0].label, "Delphacidae");
        assert_eq!(
            answer.answer.top[0].taxon_key.as_deref(),
            Some("family:Delphacidae"),
            "classes roll up through the catalogue's taxonomy"
        );
        models::rollback(db, &engine, Some(&admin), None).await.unwrap();

        // With its last backbone block trained on cached activations (the default where the
        // backbone export splits): the backbone itself changes, and the bundle still loads and
        // beats chance.
        if t.backend == "sqlite" {
            let counter = std::sync::Arc::new(EpochCounter::default());
            let options = fine_tune::FineTuneOptions {
                head: config,
                views: 1,
                cache_dir: None,
                unfreeze_blocks: Some(1),
                unfreeze_epochs: 4,
                test_time: TestTime::Flip,
            };
            let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let deep = fine_tune::run(
                db,
                &photos,
                &test_model_dir(),
                &models_dir,
                "pests@1",
                options,
                cancel,
                counter.clone(),
            )
            .await
            .unwrap();
            assert!(deep.best_val_accuracy > 0.5, "{}", deep.best_val_accuracy);
            let base_features = std::fs::read(test_model_dir().join("features.pt")).unwrap();
            assert_ne!(
                std::fs::read(deep.bundle_dir.join("features.pt")).unwrap(),
                base_features,
                "the backbone was trained"
            );
            assert!(
                deep.history.len() > 1 && counter.0.load(std::sync::atomic::Ordering::Relaxed) == deep.history.len()
            );
            let notes = counter.1.lock().unwrap().join("\n");
            assert!(notes.contains("now the backbone's last block with it, on cached activations"), "{notes}");
            let manifest = insectid::inference::Manifest::read(&deep.bundle_dir).unwrap();
            assert!(manifest.description.contains("last blocks and head"), "{}", manifest.description);
            assert_eq!(manifest.test_time, TestTime::Flip);
            // Its val figure with the mirror, from the trained backbone, is what the engine scores.
            models::activate(db, &engine, Some(&admin), deep.model.id, None).await.unwrap();
            let report = insectid::services::evaluation::evaluate(&engine, &val, 4, |_, _| {}).await.unwrap();
            let mirrored = deep.mirror_val_accuracy.expect("a val figure with the mirror");
            assert!((report.top1 - mirrored).abs() < 1e-6, "engine {} vs training {mirrored}", report.top1);
            models::rollback(db, &engine, Some(&admin), None).await.unwrap();
        }
        t.close().await;
    }
}

/// Counts the epochs a fine-tune reports and keeps its notes.
#[derive(Default)]
struct EpochCounter(std::sync::atomic::AtomicUsize, std::sync::Mutex<Vec<String>>);

impl insectid::services::fine_tune::FineTuneObserver for EpochCounter {
    fn epoch(&self, _: &insectid::training::Epoch) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn note(&self, line: &str) {
        self.1.lock().unwrap().push(line.to_string());
    }
}

/// Shadow mode takes at most SHADOW_IN_FLIGHT photos at once and skips the rest before
/// decoding or spawning anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_takes_a_bounded_number_of_photos_at_once() {
    use insectid::services::shadow;
    for t in insectid::testing::test_databases().await {
        let work_dir = insectid::testing::TempDir::new("insectid-shadow-bound");
        let work = work_dir.path().to_path_buf();
        let models_dir = work.join("models");
        std::fs::create_dir_all(&models_dir).unwrap();
        bundle_zip(&work.join("candidate.zip"), "2.1.0-shadow", false);
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        let candidate =
            models::install_zip(db, Some(&admin), &models_dir, &work.join("candidate.zip"), None).await.unwrap();
        let slot = shadow::ShadowSlot::default();
        let config = EngineConfig { threads: 1, ..Default::default() };
        shadow::enable(db, &slot, &config, Some(&admin), candidate.id).await.unwrap();
        let engine = InferenceEngine::start(&test_model_dir(), config).unwrap();
        let photo: std::sync::Arc<[u8]> = std::fs::read(test_model_dir().join("fixtures/rgb.png")).unwrap().into();
        let mut identified = insectid::services::identify::identify_photo(&engine, photo.clone(), 5).await.unwrap();
        identified.id = Some(1);
        // Twenty photos in a burst: each taken one is decoded and classified (milliseconds at
        // least), so none has finished before the burst ends.
        let taken = (0..20).filter(|_| shadow::observe(db, &slot, &identified, photo.clone())).count();
        assert_eq!(taken, shadow::SHADOW_IN_FLIGHT, "the rest are skipped, not queued");
    }
}
