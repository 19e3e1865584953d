//! The batching engine on the real model: concurrency, overload and status.

use std::sync::Arc;
use std::time::Duration;

use insectid::inference::{DevicePreference, EngineConfig, InferenceEngine, InferenceError};
use insectid::testing::test_model_dir;

fn input(seed: usize) -> Vec<f32> {
    (0..3 * 224 * 224).map(|i| (((i * 7 + seed * 13) % 255) as f32 / 127.0) - 1.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_and_all_answered() {
    let config = EngineConfig {
        device: DevicePreference::Cpu,
        max_batch: 4,
        max_wait: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    let engine = Arc::new(InferenceEngine::start(&test_model_dir(), config).unwrap());
    let active = engine.active();
    let status = &active.status;
    assert_eq!(status.classes, 1000);
    assert_eq!(status.device, "cpu");
    assert!(status.warmup_ms > 0.0);
    assert_eq!(status.warmup_top.len(), 3);

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.classify(input(i)).await })
        })
        .collect();
    for task in tasks {
        let row = task.await.unwrap().expect("answered").probabilities;
        assert_eq!(row.len(), 1000);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_and_the_engine_keeps_serving() {
    let config = EngineConfig {
        device: DevicePreference::Cpu,
        max_batch: 1,
        max_wait: Duration::ZERO,
        queue_capacity: 1,
        ..EngineConfig::default()
    };
    let engine = Arc::new(InferenceEngine::start(&test_model_dir(), config).unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.classify(input(i)).await })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(InferenceError::Busy) => busy += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(ok >= 1, "some requests are served");
    assert!(busy >= 1, "a flood beyond the queue is refused, not queued without bound");
    assert!(engine.classify(input(99)).await.is_ok(), "still serving after the flood");
}

#[test]
fn a_missing_bundle_is_a_clear_start_error() {
    let err = match InferenceEngine::start(std::path::Path::new("/nonexistent/bundle"), EngineConfig::default()) {
        Err(e) => e,
        Ok(_) => panic!("started without a model"),
    };
    assert!(err.to_string().contains("cannot read manifest.json"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_models_is_atomic_and_a_broken_bundle_changes_nothing() {
    let original = test_model_dir();
    let copy_dir = insectid::testing::TempDir::new("insectid-switch");
    let copy = copy_dir.path().to_path_buf();
    std::fs::create_dir_all(&copy).unwrap();
    for file in ["model.pt", "features.pt", "cam_features.pt", "cam_head.pt"] {
        std::fs::copy(original.join(file), copy.join(file)).unwrap();
    }
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(original.join("manifest.json")).unwrap()).unwrap();
    manifest["version"] = "2.0.0".into();
    std::fs::write(copy.join("manifest.json"), manifest.to_string()).unwrap();

    let config = EngineConfig { device: DevicePreference::Cpu, ..EngineConfig::default() };
    let engine = Arc::new(InferenceEngine::start(&original, config).unwrap());
    assert_eq!(engine.classify(input(1)).await.unwrap().model.status.version, "1.1.0");

    // Requests queued before the switch are answered by the old model, and say so. Each is
    // polled once, which puts it in the engine's queue ahead of the switch.
    let mut queued: Vec<_> = (0..6).map(|i| Box::pin(engine.classify(input(i)))).collect();
    for request in queued.iter_mut() {
        let _ = futures::poll!(request.as_mut());
    }
    let switcher = engine.clone();
    let dir = copy.clone();
    let switched = tokio::task::spawn_blocking(move || switcher.switch_to(&dir)).await.unwrap().unwrap();
    assert_eq!(switched.status.version, "2.0.0");
    for request in queued {
        assert_eq!(request.await.unwrap().model.status.version, "1.1.0", "queued before the switch");
    }
    assert_eq!(engine.active().status.version, "2.0.0");
    assert_eq!(engine.classify(input(2)).await.unwrap().model.status.version, "2.0.0");

    std::fs::write(copy.join("model.pt"), b"garbage").unwrap();
    let switcher = engine.clone();
    let dir = copy.clone();
    let failed = tokio::task::spawn_blocking(move || switcher.switch_to(&dir)).await.unwrap();
    assert!(matches!(failed, Err(InferenceError::InvalidBundle { .. })));
    assert_eq!(engine.active().status.version, "2.0.0", "a failed switch leaves the active model");
    assert!(engine.classify(input(3)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_limit_is_measured_on_a_cpu_unless_configured() {
    let by_device = EngineConfig { device: DevicePreference::Cpu, max_batch: 0, ..EngineConfig::default() };
    let engine = InferenceEngine::start(&test_model_dir(), by_device).unwrap();
    let status = &engine.active().status;
    assert!([1, 2, 4].contains(&status.max_batch), "measured {}", status.max_batch);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!((status.workers, status.threads), (cores, 1), "a forward pass per core by default");
    assert_eq!(insectid::inference::GPU_BATCH_LIMIT, 128);
    let fixed = EngineConfig { device: DevicePreference::Cpu, max_batch: 6, ..EngineConfig::default() };
    assert_eq!(InferenceEngine::start(&test_model_dir(), fixed).unwrap().active().status.max_batch, 6);
}

#[test]
fn half_precision_is_refused_on_a_cpu_with_a_reason() {
    let half = EngineConfig { device: DevicePreference::Cpu, half: true, ..EngineConfig::default() };
    let error = InferenceEngine::start(&test_model_dir(), half).err().expect("refused");
    assert!(error.to_string().contains("half precision needs a GPU"), "{error}");
}
