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
    let status = engine.status();
    assert_eq!(status.classes, 1000);
    assert_eq!(status.device, "cpu");
    assert!(status.warmup_ms > 0.0);
    assert_eq!(status.warmup_top.len(), 3);

    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.probabilities(input(i)).await })
        })
        .collect();
    for task in tasks {
        let row = task.await.unwrap().expect("answered");
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
            tokio::spawn(async move { engine.probabilities(input(i)).await })
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
    assert!(engine.probabilities(input(99)).await.is_ok(), "still serving after the flood");
}

#[test]
fn a_missing_bundle_is_a_clear_start_error() {
    let err = match InferenceEngine::start(std::path::Path::new("/nonexistent/bundle"), EngineConfig::default()) {
        Err(e) => e,
        Ok(_) => panic!("started without a model"),
    };
    assert!(err.to_string().contains("cannot read manifest.json"), "{err}");
}
