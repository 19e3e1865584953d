//! Image–text bundles end to end: `scripts/export_image_text.py` turns a tiny, randomly
//! initialised open_clip model (from tests/fixtures/TinyCLIP.json, nothing downloaded) into a
//! bundle (`insectid::testing::tiny_image_text_bundle`). Rust's tokens, text and image
//! embeddings and logits must match open_clip's own; the bundle installs through the model
//! registry and answers photos.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::account;
use insectid::auth::Role;
use insectid::entities::model_version::ModelSource;
use insectid::inference::image_text::TextEncoder;
use insectid::inference::{EngineConfig, InferenceEngine, Manifest, ModelBundle};
use insectid::services::{identify, models};
use insectid::testing::{reference_input, test_databases, test_model_dir, tiny_image_text_bundle, TempDir};

const SIZE: usize = 64;

fn tiny_bundle() -> PathBuf {
    tiny_image_text_bundle()
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(tiny_bundle().join("reference.json")).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn tokens_and_text_embeddings_match_open_clip() {
    let dir = &tiny_bundle();
    let manifest = Manifest::read(dir).unwrap();
    let encoder = TextEncoder::load(dir, &manifest, tch::Device::Cpu).unwrap();
    let bundle = ModelBundle::load(dir, tch::Device::Cpu).unwrap();
    let texts = reference()["texts"].as_array().unwrap().clone();
    assert!(texts.len() >= 8, "Chinese, accents, a long prompt and the class prompts are among them");
    for t in &texts {
        let text = t["text"].as_str().unwrap();
        let ids: Vec<i64> = t["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(encoder.token_ids(text).unwrap(), ids, "{text:?}");
        let ours = &bundle.text_embeddings(&[text]).unwrap().unwrap()[0];
        let gap = worst(ours, &floats(&t["embedding"]));
        assert!(gap < 1e-4, "{text:?}: max |Δ| = {gap}");
    }
}

#[test]
fn image_embeddings_and_logits_match_open_clip() {
    let bundle = ModelBundle::load(&tiny_bundle(), tch::Device::Cpu).unwrap();
    assert!(bundle.embeds_text());
    for kind in ["ramp", "sine"] {
        let input = reference_input(kind, 3 * SIZE * SIZE);
        let expected = &reference()["images"][kind];
        let embedding = &bundle.image_embeddings(&[&input]).unwrap().unwrap()[0];
        let gap = worst(embedding, &floats(&expected["embedding"]));
        assert!(gap < 1e-4, "{kind} embedding: max |Δ| = {gap}");
        let logits = &bundle.logits(&[&input]).unwrap()[0];
        assert_eq!(logits.len(), bundle.manifest.labels.len());
        let gap = worst(logits, &floats(&expected["logits"]));
        assert!(gap < 1e-3, "{kind} logits: max |Δ| = {gap}");
    }
    let classifier = ModelBundle::load(&test_model_dir(), tch::Device::Cpu).unwrap();
    assert!(classifier.text_embeddings(&["a bee"]).is_none(), "a classifier embeds no text");
}

/// A copy of the bundle whose manifest `edit` changes.
fn edited_copy(to: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(tiny_bundle()).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with("class-text-") {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(to.join("manifest.json")).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(to.join("manifest.json"), manifest.to_string()).unwrap();
    to.to_path_buf()
}

fn class_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("class-text-"))
        .collect();
    names.sort();
    names
}

#[test]
fn class_vectors_are_stored_with_the_bundle_and_follow_its_prompts() {
    let tmp = TempDir::new("insectid-image-text");
    let dir = edited_copy(&tmp.path().join("a"), |_| {});
    let input = reference_input("sine", 3 * SIZE * SIZE);
    let first = ModelBundle::load(&dir, tch::Device::Cpu).unwrap().logits(&[&input]).unwrap().remove(0);
    let stored = class_files(&dir);
    assert_eq!(stored.len(), 1, "computed on load and kept: {stored:?}");
    // Loaded again: read from the file, same answer.
    let again = ModelBundle::load(&dir, tch::Device::Cpu).unwrap().logits(&[&input]).unwrap().remove(0);
    assert!(worst(&first, &again) < 1e-6);
    // A damaged file is not believed: the prompts are embedded again.
    std::fs::write(dir.join(&stored[0]), b"\x93NUMPY garbage").unwrap();
    let repaired = ModelBundle::load(&dir, tch::Device::Cpu).unwrap().logits(&[&input]).unwrap().remove(0);
    assert!(worst(&first, &repaired) < 1e-6);

    // Class 0 described differently: its logit moves, the others stay, a new file is kept.
    let edited = edited_copy(&tmp.path().join("b"), |m| {
        m["labels"][0]["prompts"] = serde_json::json!(["a photo of a bright blue beetle on a white flower."]);
    });
    let changed = ModelBundle::load(&edited, tch::Device::Cpu).unwrap().logits(&[&input]).unwrap().remove(0);
    assert!((changed[0] - first[0]).abs() > 1e-4, "{} vs {}", changed[0], first[0]);
    assert!(worst(&changed[1..], &first[1..]) < 1e-5);
    assert_ne!(class_files(&edited), stored);
}

#[test]
fn broken_image_text_bundles_are_refused() {
    let tmp = TempDir::new("insectid-image-text-bad");
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 7] = [
        ("no prompt", |m| m["labels"][3]["prompts"] = serde_json::json!([]), "has no prompt"),
        ("no tokenizer", |m| m["files"].as_object_mut().unwrap().remove("tokenizer").map(drop).unwrap(), "tokenizer"),
        ("wrong width", |m| m["image_text"]["embed_dim"] = 31.into(), "of width 31"),
        (
            "a prototype of the wrong width",
            |m| m["labels"][2]["prototype"] = serde_json::json!([0.5, 0.5]),
            "32 finite",
        ),
        ("not an image encoder", |m| m["files"]["model"] = "text_encoder.pt".into(), "test forward pass failed"),
        ("not a tokenizer", |m| m["files"]["tokenizer"] = "text_encoder.pt".into(), "not a tokenizer.json"),
        ("a prompt with a line break", |m| m["labels"][0]["prompts"][0] = "two\nlines".into(), "one line"),
    ];
    for (i, (what, edit, expected)) in cases.into_iter().enumerate() {
        let dir = edited_copy(&tmp.path().join(i.to_string()), |m| {
            m.as_object_mut().unwrap().remove("sha256");
            edit(m)
        });
        let err = ModelBundle::load(&dir, tch::Device::Cpu).err().unwrap_or_else(|| panic!("{what}: loaded"));
        assert!(err.to_string().contains(expected), "{what}: {err}");
    }
}

fn zip_dir(dir: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        zip.start_file(format!("bundle/{name}"), opts).unwrap();
        zip.write_all(&std::fs::read(entry.path()).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_image_text_bundle_answers_photos() {
    let tmp = TempDir::new("insectid-image-text-install");
    let archive = tmp.path().join("tiny.zip");
    // The upload carries class vectors of its own (zeros): install must not believe them.
    let upload = edited_copy(&tmp.path().join("upload"), |_| {});
    let planted = insectid::inference::image_text::class_matrix_file(&upload, &Manifest::read(&upload).unwrap());
    tch::Tensor::zeros([144, 32], (tch::Kind::Float, tch::Device::Cpu)).write_npy(&planted).unwrap();
    zip_dir(&upload, &archive);
    let engine = std::sync::Arc::new(
        InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap(),
    );
    for t in test_databases().await {
        let db = &t.db;
        let models_dir = tmp.path().join(format!("models-{}", t.backend));
        std::fs::create_dir_all(&models_dir).unwrap();
        let admin = account(db, "root", Role::Admin).await;
        models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        let row = models::install_zip(db, Some(&admin), &models_dir, &archive, None).await.unwrap();
        assert_eq!((row.name.as_str(), row.classes), ("tiny-clip", 144));
        assert_eq!(class_files(Path::new(&row.dir)).len(), 1, "class vectors computed at install, stored with it");
        let installed = ModelBundle::load(Path::new(&row.dir), tch::Device::Cpu).unwrap();
        let input = reference_input("ramp", 3 * SIZE * SIZE);
        let gap = worst(&installed.logits(&[&input]).unwrap()[0], &floats(&reference()["images"]["ramp"]["logits"]));
        assert!(gap < 1e-3, "the planted zeros were replaced: max |Δ| = {gap}");
        models::activate(db, &engine, Some(&admin), row.id, None).await.unwrap();
        let photo = insectid::testing::coloured_photo(2, 9);
        let answer = identify::identify_photo(&engine, photo.into(), 3).await.unwrap();
        assert_eq!(answer.model_version, "0.1.0");
        assert_eq!(answer.answer.top.len(), 3);
        let total: f32 = answer.answer.top.iter().map(|c| c.probability).sum();
        assert!(total > 0.0 && total <= 1.0 + 1e-5, "{total}");
        let similar = engine.active().similar_classes("rice leaf roller", 3);
        assert_eq!(similar.len(), 3, "class vectors come from the prompts");
        models::rollback(db, &engine, Some(&admin), None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_text_bundles_are_not_fine_tuned() {
    use insectid::services::fine_tune::{self, FineTuneOptions, Quiet};
    let tmp = TempDir::new("insectid-image-text-ft");
    let t = test_databases().await.remove(0);
    let photos = insectid::storage::PhotoStore::open(tmp.path().join("photos")).unwrap();
    let options = FineTuneOptions {
        head: Default::default(),
        views: 1,
        cache_dir: None,
        unfreeze_blocks: Some(0),
        unfreeze_epochs: 0,
        test_time: Default::default(),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let quiet = std::sync::Arc::new(Quiet);
    let err =
        fine_tune::run(&t.db, &photos, &tiny_bundle(), tmp.path(), "any@1", options, stop, quiet).await.unwrap_err();
    assert!(err.to_string().contains("image–text model"), "{err}");
}
