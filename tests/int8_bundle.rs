//! The int8 variant of the default bundle (scripts/export_int8.py) through tch: it loads as a
//! CPU bundle, answers as PyTorch does for the same file, and keeps what fp32 bundles offer.

use insectid::inference::{DevicePreference, EngineConfig, InferenceEngine, ModelBundle, Precision};
use insectid::testing::{reference_input, reference_logits, test_int8_model_dir, test_model_dir};

fn best(v: &[f32]) -> Option<usize> {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
}

#[test]
fn int8_logits_match_pytorch_for_the_same_file() {
    let dir = test_int8_model_dir();
    let bundle = ModelBundle::load(&dir, tch::Device::Cpu).expect("int8 bundle loads");
    assert_eq!(bundle.manifest.precision, Precision::Int8);
    let size = bundle.manifest.input_size as usize;
    for kind in ["ramp", "sine"] {
        let input = reference_input(kind, 3 * size * size);
        let logits = &bundle.logits(&[&input]).unwrap()[0];
        let expected = reference_logits(&dir, kind);
        assert_eq!(logits.len(), expected.len());
        // Same kernels on the same integers: equal up to float summation order in the fp32
        // classifier.
        let worst = logits.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{kind}: max |Δlogit| = {worst}");
        assert_eq!(best(logits), best(&expected), "{kind}");
    }
}

/// A fixture photo's model input as the export script wrote it (raw little-endian f32).
fn fixture_input(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(test_model_dir().join("fixtures").join(format!("{name}.f32"))).unwrap();
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
fn int8_bundle_stays_close_to_its_fp32_parent() {
    let int8 = ModelBundle::load(&test_int8_model_dir(), tch::Device::Cpu).unwrap();
    let fp32 = ModelBundle::load(&test_model_dir(), tch::Device::Cpu).unwrap();
    assert_eq!(fp32.manifest.precision, Precision::Fp32);
    assert_eq!(int8.manifest.labels, fp32.manifest.labels);
    // A photo-like fixture (accuracy on real photos: scripts/quantize_eval.py). Measured:
    // cosine 0.996 between the two models' logits, same top class.
    let input = fixture_input("rgb");
    let (a, b) = (&fp32.logits(&[&input]).unwrap()[0], &int8.logits(&[&input]).unwrap()[0]);
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cosine = dot / (norm(a) * norm(b));
    assert!(cosine > 0.95, "int8 logits are far from fp32: cosine {cosine}");
    assert_eq!(best(a), best(b));
    // "Similar species" still works: read from the fp32 heat-map head of the same classifier.
    let (va, vb) = (fp32.class_vectors().expect("fp32 vectors"), int8.class_vectors().expect("int8 vectors"));
    assert_eq!(va, vb);
}

#[test]
fn int8_runs_on_the_cpu_whatever_is_asked() {
    assert_eq!(Precision::Int8.device(tch::Device::Cuda(0)), tch::Device::Cpu);
    assert_eq!(Precision::Fp32.device(tch::Device::Cuda(0)), tch::Device::Cuda(0));
    let bundle = ModelBundle::load(&test_int8_model_dir(), tch::Device::Cpu).unwrap();
    assert_eq!(bundle.device, tch::Device::Cpu);
}

#[test]
fn half_precision_leaves_int8_bundles_alone() {
    let config = EngineConfig { device: DevicePreference::Cpu, half: true, ..EngineConfig::default() };
    let engine = InferenceEngine::start(&test_int8_model_dir(), config).expect("int8 starts with INSECTID_HALF set");
    assert_eq!(engine.active().status.precision, Precision::Int8);
}

#[test]
fn the_cpu_chooses_between_the_8_bit_and_the_7_bit_file() {
    let manifest = insectid::inference::Manifest::read(&test_int8_model_dir()).unwrap();
    let files = &manifest.files;
    let seven_bit = files.model_7bit.as_ref().expect("the exporter writes a 7-bit file beside the 8-bit one");
    assert_ne!(seven_bit, &files.model);
    let chosen = files.model_for_this_cpu();
    if insectid::inference::cpu_adds_int8_exactly() {
        assert_eq!(chosen, &files.model, "VNNI adds 8-bit products exactly");
    } else {
        assert_eq!(chosen, seven_bit, "without VNNI 8-bit activations saturate");
    }
}
