//! Evaluation on small generated class-folder datasets with the real model.

use std::path::Path;

use insectid::inference::{DevicePreference, EngineConfig, InferenceEngine, Manifest};
use insectid::services::evaluation::{class_targets, evaluate, render_confusion, scan_class_folders};
use insectid::testing::{test_model_dir, TempDir};

fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("insectid-eval-{tag}"))
}

fn write_png(path: &Path, seed: u8) {
    std::fs::write(path, insectid::testing::png(96, 80, |x, y| [(x as u8).wrapping_mul(seed), y as u8, seed])).unwrap();
}

#[test]
fn dataset_classes_match_labels_by_name_or_taxon() {
    let manifest = Manifest::read(&test_model_dir()).unwrap();
    let classes: Vec<String> =
        ["ladybug", "Curculionidae", "Coleoptera", "Arachnida", "Delphacidae"].map(String::from).to_vec();
    let targets = class_targets(&manifest, &classes);
    assert_eq!(targets[0], vec![301]);
    assert_eq!(targets[1], vec![307]);
    assert_eq!(targets[2], (300..=307).collect::<Vec<_>>());
    assert_eq!(targets[3].len(), 9, "spiders, harvestman, scorpion, tick");
    assert!(targets[4].is_empty(), "no ImageNet class is a planthopper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_counts_hits_misses_and_unreadable_photos() {
    let dir_guard = temp_dir("run");
    let dir = dir_guard.path();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test_model_dir().join("reference.json")).unwrap()).unwrap();
    let manifest = Manifest::read(&test_model_dir()).unwrap();
    // A class named after the label the model gives the fixture: every photo in it is a hit.
    let hit_label = &manifest.labels[reference["fixtures"]["rgb"]["top5"][0].as_u64().unwrap() as usize].name;
    std::fs::create_dir_all(dir.join(hit_label)).unwrap();
    for i in 0..2 {
        std::fs::copy(test_model_dir().join("fixtures/rgb.png"), dir.join(hit_label).join(format!("{i}.png"))).unwrap();
    }
    std::fs::create_dir_all(dir.join("ladybug")).unwrap();
    for i in 0..3 {
        write_png(&dir.join("ladybug").join(format!("{i}.png")), 10 + i);
    }
    std::fs::write(dir.join("ladybug").join("broken.jpg"), b"not a photo").unwrap();
    std::fs::write(dir.join("ladybug").join("notes.txt"), b"ignored").unwrap();
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();

    let dataset = scan_class_folders(dir).unwrap();
    assert_eq!(dataset.classes.len(), 2);
    assert_eq!(dataset.samples.len(), 6, "images only; notes.txt and hidden folders skipped");

    let engine =
        InferenceEngine::start(&test_model_dir(), EngineConfig { device: DevicePreference::Cpu, ..Default::default() })
            .unwrap();
    let mut progress = Vec::new();
    let report = evaluate(&engine, &dataset, 4, |done, total| progress.push((done, total))).await.unwrap();
    assert_eq!(progress.last(), Some(&(6, 6)));
    assert_eq!(report.images, 5);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].0.ends_with("broken.jpg"));
    let hit = dataset.classes.iter().position(|c| c == hit_label).unwrap();
    assert_eq!(report.confusion[hit][hit], 2);
    assert_eq!(report.per_class[hit].recall, 1.0);
    let total: u32 = report.confusion.iter().flatten().sum();
    assert_eq!(total, 5);
    assert!(report.top1 >= 0.4 && report.top5 >= report.top1);
    let judged: u32 = report.headlines.iter().map(|h| h.answers).sum();
    assert_eq!(judged as usize, report.images, "every photo's headline is judged once: {:?}", report.headlines);
    let png = render_confusion(&report);
    assert_eq!(png.dimensions(), (8 * 2 + 3 * 28, 8 * 2 + 2 * 28));
}

#[test]
fn headlines_are_judged_against_each_classes_lineage() {
    use insectid::inference::{Answer, ScoredClass, Verdict};
    use insectid::services::evaluation::headlines::{is_right, truth_lineage};
    let manifest = Manifest::read(&test_model_dir()).unwrap();
    let weevil = truth_lineage(&manifest, "Curculionidae");
    assert_eq!(weevil.get("order").map(String::as_str), Some("Coleoptera"), "from the model's own taxonomy");
    // No ImageNet label is a planthopper: the catalogue knows the family's order.
    let hopper = truth_lineage(&manifest, "Delphacidae");
    assert_eq!(hopper.get("order").map(String::as_str), Some("Hemiptera"));
    assert_eq!(hopper.get("class").map(String::as_str), Some("Insecta"));
    assert!(truth_lineage(&manifest, "no insect").is_empty());
    let scored = |index: usize| ScoredClass {
        index,
        label: manifest.labels[index].name.clone(),
        probability: 0.9,
        taxon_key: None,
    };
    let answer = |verdict: Verdict, top: usize| Answer { top: vec![scored(top)], verdict, arthropod_probability: 0.9 };
    let rolled = |rank: &str, name: &str| Verdict::RolledUp {
        rank: rank.into(),
        name: name.into(),
        taxon_key: String::new(),
        probability: 0.9,
    };
    let targets = class_targets(&manifest, &["Curculionidae".to_string(), "Delphacidae".to_string()]);
    assert!(is_right(&answer(rolled("order", "Hemiptera"), 307), "Delphacidae", &targets[1], &hopper));
    assert!(!is_right(&answer(rolled("order", "Coleoptera"), 307), "Delphacidae", &targets[1], &hopper));
    let confident = Verdict::Confident { label: manifest.labels[307].name.clone(), probability: 0.9, taxon_key: None };
    assert!(is_right(&answer(confident.clone(), 307), "Curculionidae", &targets[0], &weevil));
    assert!(!is_right(&answer(confident.clone(), 307), "Delphacidae", &targets[1], &hopper));
    let guess = Verdict::Uncertain { arthropod_probability: 0.8, best: Some(scored(307)) };
    assert!(is_right(&answer(guess, 307), "Curculionidae", &targets[0], &weevil));
    let some_arthropod = Verdict::Uncertain { arthropod_probability: 0.8, best: None };
    assert!(is_right(&answer(some_arthropod.clone(), 307), "Delphacidae", &targets[1], &hopper));
    let none = Verdict::NoInsect { arthropod_probability: 0.01 };
    assert!(!is_right(&answer(none.clone(), 1), "Delphacidae", &targets[1], &hopper), "it had an insect");
    assert!(is_right(&answer(none, 1), "no insect", &[], &Default::default()));
    assert!(!is_right(&answer(some_arthropod, 307), "no insect", &[], &Default::default()));
    assert!(!is_right(&answer(confident, 307), "No_Insect", &[], &Default::default()));
}

#[test]
fn an_empty_or_missing_dataset_is_refused_clearly() {
    let dir_guard = temp_dir("empty");
    let dir = dir_guard.path();
    std::fs::create_dir_all(dir.join("class")).unwrap();
    let err = scan_class_folders(dir).unwrap_err().to_string();
    assert!(err.contains("holds no photos"), "{err}");
    let err = scan_class_folders(Path::new("/no/such/dataset")).unwrap_err().to_string();
    assert!(err.contains("cannot read /no/such/dataset"), "{err}");
}
