//! Describing species: the service's rules on SQLite and PostgreSQL, and the job that brings
//! the descriptions to the active image–text model, a species it lacked included.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::account;
use insectid::auth::Role;
use insectid::catalogue;
use insectid::entities::class_description::Language;
use insectid::entities::model_version::ModelSource;
use insectid::error::ErrorKind;
use insectid::inference::{EngineConfig, InferenceEngine, Manifest, ModelBundle};
use insectid::jobs::{JobResult, JobRunner, JobState, RunnerSettings};
use insectid::services::class_descriptions::{self, MAX_PER_SPECIES};
use insectid::services::{identify, models};
use insectid::testing::{reference_input, test_databases, test_model_dir, tiny_image_text_bundle, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_are_checked_and_kept() {
    for t in test_databases().await {
        let db = &t.db;
        let admin = account(db, "root", Role::Admin).await;
        let labeler = account(db, "lab", Role::Labeler).await;
        let key = catalogue::all()[0].key.clone();
        let add = |who, text: &str| {
            let text = text.to_string();
            let key = key.clone();
            async move { class_descriptions::add(db, who, &key, Language::En, &text, None).await }
        };
        let kind = |r: Result<_, insectid::ServiceError>| r.map(drop).unwrap_err().kind();
        assert_eq!(kind(add(None, "a moth").await), ErrorKind::Unauthorized);
        assert_eq!(kind(add(Some(&labeler), "a moth").await), ErrorKind::Forbidden);
        let unknown = class_descriptions::add(db, Some(&admin), "ip102-999", Language::En, "a moth", None).await;
        assert_eq!(kind(unknown), ErrorKind::NotFound);
        for bad in ["", "   ", "two\nlines", &"x".repeat(501)] {
            assert_eq!(kind(add(Some(&admin), bad).await), ErrorKind::InvalidInput, "{bad:?}");
        }
        let first = add(Some(&admin), "  a small moth with folded wings  ").await.unwrap();
        assert_eq!(first.description.text, "a small moth with folded wings", "trimmed");
        assert!(first.job.is_none(), "the active model reads no text: nothing to do");
        assert_eq!(kind(add(Some(&admin), "a small moth with folded wings").await), ErrorKind::Conflict);
        let chinese =
            class_descriptions::add(db, Some(&admin), &key, Language::Zh, "a small moth with folded wings", None);
        chinese.await.expect("the same words in another language are another description");
        for i in 2..MAX_PER_SPECIES {
            add(Some(&admin), &format!("description {i}")).await.unwrap();
        }
        assert_eq!(kind(add(Some(&admin), "one too many").await), ErrorKind::Conflict);
        assert_eq!(class_descriptions::list(db, &key).await.unwrap().len() as u64, MAX_PER_SPECIES);

        let id = first.description.id;
        assert_eq!(kind(class_descriptions::remove(db, Some(&labeler), id, None).await), ErrorKind::Forbidden);
        class_descriptions::remove(db, Some(&admin), id, None).await.unwrap();
        assert_eq!(kind(class_descriptions::remove(db, Some(&admin), id, None).await), ErrorKind::NotFound);
        assert!(class_descriptions::list(db, &key).await.unwrap().iter().all(|d| d.id != id));
    }
}

/// The tiny bundle with only its first `keep` species and its negative classes, zipped.
fn trimmed_bundle_zip(out: &Path, keep: usize) {
    let dir = tiny_image_text_bundle();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let labels = manifest["labels"].as_array().unwrap();
    let mut kept: Vec<serde_json::Value> = labels.iter().take(keep).cloned().collect();
    kept.extend(labels.iter().filter(|l| l["taxon"].is_null()).cloned());
    for (i, l) in kept.iter_mut().enumerate() {
        l["index"] = i.into();
    }
    manifest["labels"] = kept.into();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("bundle/manifest.json", opts).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    for file in ["image_encoder.pt", "text_encoder.pt", "tokenizer.json"] {
        zip.start_file(format!("bundle/{file}"), opts).unwrap();
        zip.write_all(&std::fs::read(dir.join(file)).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

async fn run_describe_job(
    runner: &JobRunner,
    db: &sea_orm::DatabaseConnection,
) -> insectid::jobs::results::DescribeResult {
    assert!(runner.run_next().await.unwrap(), "a describe job was queued");
    use sea_orm::{EntityTrait, QueryOrder};
    let newest = insectid::entities::job::Entity::find().order_by_desc(insectid::entities::job::Column::Id);
    let job = newest.one(db).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{} {}", job.error, job.log);
    match JobResult::of(&job) {
        Some(JobResult::Describe(r)) => r,
        other => panic!("{other:?}: {}", job.result),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_reaches_the_active_image_text_model() {
    let tmp = TempDir::new("insectid-describe");
    let archive = tmp.path().join("trimmed.zip");
    trimmed_bundle_zip(&archive, 4);
    let engine = std::sync::Arc::new(
        InferenceEngine::start(&test_model_dir(), EngineConfig { threads: 1, ..Default::default() }).unwrap(),
    );
    for t in test_databases().await {
        let db = &t.db;
        let work = tmp.path().join(t.backend);
        let ctx = common::job_context(db, &work);
        let runner =
            JobRunner::new(ctx.clone(), RunnerSettings { heartbeat: Duration::from_millis(100), ..Default::default() });
        let admin = account(db, "root", Role::Admin).await;
        models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
        let base = models::install_zip(db, Some(&admin), &ctx.models_dir, &archive, None).await.unwrap();
        models::activate(db, &engine, Some(&admin), base.id, None).await.unwrap();
        let base_manifest = Manifest::read(Path::new(&base.dir)).unwrap();
        assert_eq!(base_manifest.labels.len(), 4 + 5);

        let known = catalogue::for_label(&base_manifest.labels[0].name).unwrap();
        let missing = &catalogue::all()[20];
        assert!(!base_manifest.labels.iter().any(|l| missing.answers_to(&l.name)));
        let say = |key: &str, language, text: &str| {
            let (key, text) = (key.to_string(), text.to_string());
            let admin = admin.clone();
            async move { class_descriptions::add(db, Some(&admin), &key, language, &text, None).await.unwrap() }
        };
        let queued = say(&known.key, Language::En, "a photo of a tiny green caterpillar.").await.job.unwrap();
        let again = say(&missing.key, Language::Zh, "一种稻茎上的褐色小虫").await.job.unwrap();
        assert_eq!(again.id, queued.id, "a waiting job reads every description: no second one");
        say(&missing.key, Language::En, "a photo of a brown planthopper on a rice stem.").await;

        let result = run_describe_job(&runner, db).await;
        assert_eq!(result.version, format!("0.1.0+described.{}", queued.id));
        assert_eq!((result.descriptions, result.described_classes, result.new_classes), (3, 2, 1));
        assert!(result.activated);
        let active = models::active(db).await.unwrap().unwrap();
        assert_eq!((active.id, active.source), (result.model_id, ModelSource::Described));
        let manifest = Manifest::read(Path::new(&active.dir)).unwrap();
        assert_eq!(manifest.labels.len(), 4 + 5 + 1);
        let added = manifest.labels.last().unwrap();
        assert_eq!(added.name, missing.name_en);
        assert_eq!(added.taxon, Some(missing.taxon()));
        assert_eq!(added.described, ["a photo of a brown planthopper on a rice stem."], "Chinese is not embedded");
        assert_eq!(manifest.labels[0].described, ["a photo of a tiny green caterpillar."]);
        assert_eq!(manifest.labels[0].prompts, base_manifest.labels[0].prompts, "the exported prompts stay");

        // The described class's vector moved; the others did not.
        let input = reference_input("ramp", 3 * 64 * 64);
        let before = ModelBundle::load(Path::new(&base.dir), tch::Device::Cpu).unwrap().logits(&[&input]).unwrap();
        let after = ModelBundle::load(Path::new(&active.dir), tch::Device::Cpu).unwrap().logits(&[&input]).unwrap();
        assert!((after[0][0] - before[0][0]).abs() > 1e-4);
        for i in 1..before[0].len() {
            assert!((after[0][i] - before[0][i]).abs() < 1e-4, "class {i}");
        }

        // The engine follows the registry (every instance's poll does this) and answers with it.
        let (following, dir) = (engine.clone(), std::path::PathBuf::from(&active.dir));
        tokio::task::spawn_blocking(move || following.switch_to(&dir).map(drop)).await.unwrap().unwrap();
        let answer =
            identify::identify_photo(&engine, insectid::testing::coloured_photo(1, 3).into(), 3).await.unwrap();
        assert_eq!(answer.model_version, result.version);

        // Removing the new species' description takes its class away again.
        let english = class_descriptions::list(db, &missing.key).await.unwrap();
        let english = english.iter().find(|d| d.language == Language::En).unwrap();
        class_descriptions::remove(db, Some(&admin), english.id, None).await.unwrap().job.unwrap();
        let second = run_describe_job(&runner, db).await;
        assert_eq!((second.classes, second.new_classes), (4 + 5, 0));
        let active = models::active(db).await.unwrap().unwrap();
        assert!(active.version.starts_with("0.1.0+described."), "named after the origin: {}", active.version);
        models::rollback(db, &engine, Some(&admin), None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_learn_from_a_dataset_versions_photos() {
    use insectid::jobs::{queue, JobSpec};
    use insectid::services::{dataset_import, evaluation};
    let tmp = TempDir::new("insectid-few-shot");
    let archive = tmp.path().join("trimmed.zip");
    trimmed_bundle_zip(&archive, 4);
    insectid::testing::write_pest_folders(&tmp.path().join("source"));
    let t = test_databases().await.remove(0);
    let db = &t.db;
    let ctx = common::job_context(db, &tmp.path().join("work"));
    let runner = JobRunner::new(ctx.clone(), RunnerSettings::default());
    let admin = account(db, "root", Role::Admin).await;
    models::record_startup(db, &test_model_dir(), ModelSource::Default).await.unwrap();
    let base = models::install_zip(db, Some(&admin), &ctx.models_dir, &archive, None).await.unwrap();
    let engine = InferenceEngine::start(Path::new(&base.dir), EngineConfig { threads: 1, ..Default::default() });
    models::activate(db, &std::sync::Arc::new(engine.unwrap()), Some(&admin), base.id, None).await.unwrap();
    let import = dataset_import::start(db, "pests", &tmp.path().join("source"), 1).await.unwrap();
    dataset_import::run(db, &ctx.photos, import.id, |_| {}).await.unwrap();

    let spec = JobSpec::DescribeClasses { model: Some(base.id), dataset: Some("pests@1".into()), photo_weight: 50 };
    assert!(JobSpec::DescribeClasses { model: Some(1), dataset: None, photo_weight: 101 }.validate().is_err());
    queue::submit(db, Some(&admin), &spec, "describe-classes").await.unwrap();
    let result = run_describe_job(&runner, db).await;
    assert_eq!((result.prototyped_classes, result.new_classes, result.classes), (3, 3, 4 + 5 + 3));
    assert!(result.activated);
    let active = models::active(db).await.unwrap().unwrap();
    let manifest = Manifest::read(Path::new(&active.dir)).unwrap();
    let delphacidae = manifest.labels.iter().find(|l| l.name == "Delphacidae").unwrap();
    assert_eq!(delphacidae.taxon.as_ref().map(|t| t.key.as_str()), Some("family:Delphacidae"));
    assert_eq!(manifest.image_text.as_ref().unwrap().photo_weight, 0.5);

    // Evaluated like any version: the classes learnt from 6 photos each answer their val photos.
    let val = evaluation::from_dataset_version(db, &ctx.photos, "pests@1", "val").await.unwrap();
    let few_shot = models::engine_for(&active, EngineConfig { threads: 1, ..Default::default() }).await.unwrap();
    let report = evaluation::evaluate(&few_shot, &val, 4, |_, _| {}).await.unwrap();
    assert!(report.top1 > 0.5, "above chance (1/3): {}", report.top1);
    let words_only = models::engine_for(&base, EngineConfig { threads: 1, ..Default::default() }).await.unwrap();
    let before = evaluation::evaluate(&words_only, &val, 4, |_, _| {}).await.unwrap();
    assert_eq!(before.top1, 0.0, "the origin has no such classes");

    // A description added later keeps the prototypes: they belong to the new origin.
    let say = class_descriptions::add(db, Some(&admin), &catalogue::all()[0].key, Language::En, "a moth", None);
    say.await.unwrap().job.expect("queued for the active image–text model");
    let again = run_describe_job(&runner, db).await;
    assert_eq!((again.prototyped_classes, again.classes), (3, 4 + 5 + 3));
}
