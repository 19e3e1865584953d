//! The catalogue against the default model: every arthropod class the model can answer has an
//! entry whose taxonomy agrees with the model's, and similar species come from its weights.

use insectid::inference::{EngineConfig, InferenceEngine};

#[test]
fn every_arthropod_label_of_the_default_model_has_a_consistent_entry() {
    let manifest = insectid::inference::Manifest::read(&insectid::testing::test_model_dir()).unwrap();
    let mut checked = 0;
    for label in manifest.labels.iter().filter(|l| l.taxon.is_some()) {
        let entry = insectid::catalogue::for_label(&label.name)
            .unwrap_or_else(|| panic!("no catalogue entry for {:?}", label.name));
        let lineage = &label.taxon.as_ref().unwrap().lineage;
        assert_eq!(Some(&entry.class), lineage.get("class"), "{}", label.name);
        if let Some(order) = lineage.get("order") {
            assert_eq!(&entry.order, order, "{}", label.name);
        }
        if let Some(family) = lineage.get("family") {
            assert_eq!(&entry.family, family, "{}", label.name);
        }
        checked += 1;
    }
    assert_eq!(checked, 37);
}

#[test]
fn similar_species_are_other_arthropods_the_model_finds_alike() {
    let engine =
        InferenceEngine::start(&insectid::testing::test_model_dir(), EngineConfig { threads: 1, ..Default::default() })
            .unwrap();
    let active = engine.active();
    assert_eq!(active.class_vectors.as_ref().map(|v| v.len()), Some(1000), "one vector per ImageNet class");
    let similar = active.similar_classes("weevil", 3);
    assert_eq!(similar.len(), 3);
    let names: Vec<&str> = similar.iter().map(|s| s.0.as_str()).collect();
    assert!(!names.contains(&"weevil"));
    for name in &names {
        assert!(insectid::catalogue::for_label(name).is_some(), "{name} is an arthropod in the catalogue");
    }
    assert!(similar.windows(2).all(|w| w[0].1 >= w[1].1), "most similar first: {similar:?}");
    assert!(active.similar_classes("no such class", 3).is_empty());
    eprintln!("similar to weevil: {similar:?}");
}
