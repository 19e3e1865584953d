//! The real default bundle through tch: outputs match PyTorch's, broken bundles are refused.

use std::path::Path;

use insectid::inference::{InferenceError, Manifest, ModelBundle, TestTime};
use insectid::testing::{reference_input, reference_logits, test_model_dir, TempDir};

#[test]
fn logits_match_pytorch_reference() {
    let dir = test_model_dir();
    let bundle = ModelBundle::load(&dir, tch::Device::Cpu).expect("bundle loads");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
    let n = 3 * 224 * 224;
    for kind in ["ramp", "sine"] {
        let input = reference_input(kind, n);
        let logits = &bundle.logits(&[&input]).unwrap()[0];
        let expected = reference_logits(&dir, kind);
        assert_eq!(logits.len(), expected.len());
        let worst = logits.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{kind}: max |Δlogit| = {worst}");
        let probs = &bundle.probabilities(&[&input]).unwrap()[0];
        let top: Vec<usize> = bundle.top_k(probs, 5).iter().map(|t| t.index).collect();
        let expected_top: Vec<usize> =
            reference[kind]["top5"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(top, expected_top, "{kind}");
    }
}

#[test]
fn a_batch_gives_the_same_rows_as_single_inputs() {
    let bundle = ModelBundle::load(&test_model_dir(), tch::Device::Cpu).unwrap();
    let a = reference_input("ramp", 3 * 224 * 224);
    let b = reference_input("sine", 3 * 224 * 224);
    let batch = bundle.probabilities(&[&a, &b]).unwrap();
    let single_b = &bundle.probabilities(&[&b]).unwrap()[0];
    let worst = batch[1].iter().zip(single_b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "batched row differs by {worst}");
    assert!((batch[0].iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn manifest_describes_the_arthropod_classes() {
    let manifest = Manifest::read(&test_model_dir()).unwrap();
    assert_eq!(manifest.labels.len(), 1000);
    assert_eq!(manifest.arthropod_classes(), 37);
    let ladybug = &manifest.labels[301];
    assert_eq!(ladybug.name, "ladybug");
    let taxon = ladybug.taxon.as_ref().unwrap();
    assert_eq!(taxon.key, "family:Coccinellidae");
    assert_eq!(taxon.lineage["order"], "Coleoptera");
    assert!(manifest.labels[0].taxon.is_none(), "a tench is no arthropod");
}

/// An input (3×S×S, channel-major) mirrored left to right, as a photo's mirror image gives.
fn mirrored(input: &[f32], size: usize) -> Vec<f32> {
    let mut out = input.to_vec();
    for row in out.chunks_mut(size) {
        row.reverse();
    }
    out
}

#[test]
fn a_bundle_declaring_flip_averages_each_photo_with_its_mirror() {
    let plain = ModelBundle::load(&test_model_dir(), tch::Device::Cpu).unwrap();
    let (_dir, flip) = broken_copy(|_, m| m["test_time"] = "flip".into());
    let flip = flip.expect("a bundle with test-time flip loads");
    assert_eq!(flip.manifest.test_time, TestTime::Flip);
    let a = reference_input("ramp", 3 * 224 * 224);
    let b = reference_input("sine", 3 * 224 * 224);
    let rows = flip.logits(&[&a, &b]).unwrap();
    let mut mirror_mattered = 0.0f32;
    for (input, row) in [(&a, &rows[0]), (&b, &rows[1])] {
        let both = plain.logits(&[input, &mirrored(input, 224)]).unwrap();
        let worst =
            row.iter().enumerate().map(|(i, x)| (x - (both[0][i] + both[1][i]) / 2.0).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "max |Δlogit| {worst}");
        let unlike_plain = row.iter().zip(&both[0]).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        mirror_mattered = mirror_mattered.max(unlike_plain);
    }
    // The sine input varies along each row, so its mirror image answers differently.
    assert!(mirror_mattered > 1e-3, "the mirror changed nothing: not a test of averaging");
    let probabilities = &flip.probabilities(&[&a]).unwrap()[0];
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4, "softmax of the averaged logits");
}

fn broken_copy(edit: impl FnOnce(&Path, &mut serde_json::Value)) -> (TempDir, Result<ModelBundle, InferenceError>) {
    let src = test_model_dir();
    let dir = TempDir::new("insectid-bundle");
    for file in ["model.pt", "features.pt", "cam_features.pt", "cam_head.pt"] {
        std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
    }
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("manifest.json")).unwrap()).unwrap();
    edit(dir.path(), &mut manifest);
    if !manifest.is_null() {
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    }
    let result = ModelBundle::load(dir.path(), tch::Device::Cpu);
    (dir, result)
}

fn reason(r: Result<ModelBundle, InferenceError>) -> String {
    match r {
        Err(InferenceError::InvalidBundle { reason, .. }) => reason,
        Err(other) => panic!("expected InvalidBundle, got {other}"),
        Ok(_) => panic!("a broken bundle loaded"),
    }
}

#[test]
fn broken_bundles_are_refused_with_a_reason() {
    let (_d, r) = broken_copy(|_, m| {
        m["labels"].as_array_mut().unwrap().pop();
    });
    assert!(reason(r).contains("does not match 999 labels"));

    let (_d, r) = broken_copy(|_, m| *m = serde_json::Value::Null);
    assert!(reason(r).contains("cannot read manifest.json"));

    let (_d, r) = broken_copy(|dir, _| std::fs::write(dir.join("model.pt"), b"not a TorchScript archive").unwrap());
    assert!(reason(r).contains("model.pt does not match its sha256"));

    let (_d, r) = broken_copy(|dir, m| {
        std::fs::write(dir.join("model.pt"), b"not a TorchScript archive").unwrap();
        m["sha256"] = serde_json::json!({});
    });
    assert!(reason(r).contains("does not load"));

    let (_d, r) = broken_copy(|_, m| m["files"]["model"] = "../../etc/passwd".into());
    assert!(reason(r).contains("plain name"));

    // The digests' file names are read too, so they must also stay inside the bundle (the file
    // named here is the bundle's own model.pt, with its right digest, reached from outside).
    let (_d, r) = broken_copy(|dir, m| {
        let digest = m["sha256"]["model.pt"].clone();
        m["sha256"][dir.join("model.pt").display().to_string()] = digest;
    });
    assert!(reason(r).contains("plain name"));
    let (_d, r) = broken_copy(|dir, m| {
        let digest = m["sha256"]["model.pt"].clone();
        let name = dir.file_name().unwrap().to_str().unwrap();
        m["sha256"][format!("../{name}/model.pt")] = digest;
    });
    assert!(reason(r).contains("plain name"));

    let (_d, r) = broken_copy(|_, m| m["input_size"] = 2000.into());
    assert!(reason(r).contains("input_size"));

    let (_d, r) = broken_copy(|_, m| m["labels"][5]["index"] = 6.into());
    assert!(reason(r).contains("label at position 5 has index 6"));

    let (_d, r) = broken_copy(|dir, _| std::fs::remove_file(dir.join("model.pt")).unwrap());
    assert!(reason(r).contains("model.pt is missing"));

    let (_d, r) = broken_copy(|dir, m| {
        *m = serde_json::Value::Null;
        std::fs::write(dir.join("manifest.json"), "{ not json").unwrap()
    });
    assert!(reason(r).contains("not valid"));
}

/// Rust preprocessing against the Python reference on PNG fixtures (grey, RGB, transparent).
#[test]
fn preprocessing_matches_the_python_reference() {
    let dir = test_model_dir();
    let bundle = ModelBundle::load(&dir, tch::Device::Cpu).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
    for name in ["rgb", "grey", "rgba"] {
        let png = std::fs::read(dir.join("fixtures").join(format!("{name}.png"))).unwrap();
        let ours = insectid::inference::preprocess::prepare(&png, bundle.preprocessing()).unwrap();
        let raw = std::fs::read(dir.join("fixtures").join(format!("{name}.f32"))).unwrap();
        let theirs: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-3, "{name}: max |Δ input| = {worst}");
        let logits = &bundle.logits(&[&ours]).unwrap()[0];
        let expected = reference["fixtures"][name]["logits"].as_array().unwrap();
        let worst_logit =
            logits.iter().zip(expected).map(|(a, b)| (a - b.as_f64().unwrap() as f32).abs()).fold(0.0f32, f32::max);
        assert!(worst_logit < 1e-2, "{name}: max |Δ logit| = {worst_logit}");
        eprintln!("{name}: max |Δ input| {worst:e}, max |Δ logit| {worst_logit:e}");
    }
}
