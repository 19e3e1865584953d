use super::*;
use crate::inference::{Label, ModelBundle, TestTime};
use crate::testing::coloured_photo as photo;

#[test]
fn a_tiny_fine_tune_beats_chance_and_exports_a_bundle_the_engine_loads() {
    let base = crate::testing::test_model_dir();
    let manifest = Manifest::read(&base).unwrap();
    let features = CModule::load_on_device(base.join(manifest.files.features.as_ref().unwrap()), Device::Cpu).unwrap();
    let prep = Preprocessing::from(&manifest);
    let set = |per: u32, offset: u32| -> (Vec<Vec<u8>>, Vec<i64>) {
        let mut photos = Vec::new();
        let mut labels = Vec::new();
        for class in 0..3 {
            for i in 0..per {
                photos.push(photo(class, offset + i));
                labels.push(class as i64);
            }
        }
        (photos, labels)
    };
    let (train, train_labels) = set(6, 0);
    let (val, val_labels) = set(3, 100);
    let never = AtomicBool::new(false);
    let mut reported = Vec::new();
    let train_x =
        extract_features(&features, Device::Cpu, prep, &train, augment::View::Plain, &never, |n| reported.push(n))
            .unwrap();
    assert_eq!(reported.last(), Some(&18), "progress reaches every photo");
    let val_x = extract_features(&features, Device::Cpu, prep, &val, augment::View::Plain, &never, |_| {}).unwrap();
    let stopped =
        extract_features(&features, Device::Cpu, prep, &val, augment::View::Plain, &AtomicBool::new(true), |_| {});
    assert!(matches!(stopped, Err(TrainingError::Cancelled)));
    assert_eq!(train_x.size(), [18, manifest.feature_dim.unwrap_or(1280) as i64]);
    let config = HeadConfig { hidden: 0, max_epochs: 30, patience: 5, ..Default::default() };
    let mut seen = Vec::new();
    let trained = train_head(
        &train_x,
        &Tensor::from_slice(&train_labels),
        &val_x,
        &Tensor::from_slice(&val_labels),
        3,
        config,
        &AtomicBool::new(false),
        |e| seen.push(e.epoch),
    )
    .unwrap();
    assert!(trained.best_val_accuracy > 0.5, "beats chance (1/3): {}", trained.best_val_accuracy);
    assert_eq!(seen, (1..=seen.len()).collect::<Vec<_>>());
    assert!(trained.temperature > 0.0);

    let cancelled = train_head(
        &train_x,
        &Tensor::from_slice(&train_labels),
        &val_x,
        &Tensor::from_slice(&val_labels),
        3,
        config,
        &AtomicBool::new(true),
        |_| {},
    );
    assert!(matches!(cancelled, Err(TrainingError::Cancelled)));

    let out = std::env::temp_dir().join(format!("insectid-finetune-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let labels = ["red", "green", "blue"]
        .iter()
        .enumerate()
        .map(|(i, n)| Label {
            index: i,
            name: n.to_string(),
            taxon: None,
            prompts: Vec::new(),
            described: Vec::new(),
            prototype: None,
        })
        .collect();
    let written = export_bundle(&base, &trained, None, TestTime::None, labels, "colours", "0.1.0", &out).unwrap();
    assert_eq!(written.labels.len(), 3);
    let bundle = ModelBundle::load(&out, Device::Cpu).unwrap();
    let input = preprocess::prepare(&photo(2, 500), bundle.preprocessing()).unwrap();
    let probabilities = bundle.probabilities(&[&input]).unwrap();
    assert_eq!(bundle.top_k(&probabilities[0], 1)[0].label, "blue", "the exported model answers like the trained head");
    std::fs::remove_dir_all(out).ok();
}

/// Photos and their labels.
type Labelled = (Vec<Vec<u8>>, Vec<i64>);

/// Photos of three colours: six of each to train on, three to validate.
fn three_colours() -> (Labelled, Labelled) {
    let (mut train, mut train_labels, mut val, mut val_labels) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for class in 0..3 {
        for i in 0..6 {
            train.push(photo(class, i));
            train_labels.push(class as i64);
        }
        for i in 100..103 {
            val.push(photo(class, i));
            val_labels.push(class as i64);
        }
    }
    ((train, train_labels), (val, val_labels))
}

#[test]
fn unfreezing_the_last_block_trains_with_finite_losses() {
    let base = crate::testing::test_model_dir();
    let manifest = Manifest::read(&base).unwrap();
    let features_path = base.join(manifest.files.features.as_ref().unwrap());
    let features = CModule::load_on_device(&features_path, Device::Cpu).unwrap();
    let prep = Preprocessing::from(&manifest);
    let never = AtomicBool::new(false);
    let ((train, train_labels), (val, val_labels)) = three_colours();
    let inputs = |photos: &[Vec<u8>]| {
        let size = prep.input_size as i64;
        let all: Vec<f32> =
            photos.iter().flat_map(|b| crate::inference::preprocess::prepare(b, prep).unwrap()).collect();
        Tensor::from_slice(&all).view([photos.len() as i64, 3, size, size])
    };
    let train_x = extract_features(&features, Device::Cpu, prep, &train, augment::View::Plain, &never, |_| {}).unwrap();
    let val_x = extract_features(&features, Device::Cpu, prep, &val, augment::View::Plain, &never, |_| {}).unwrap();
    let (ty, vy) = (Tensor::from_slice(&train_labels), Tensor::from_slice(&val_labels));
    let config = HeadConfig { hidden: 0, max_epochs: 20, patience: 5, ..Default::default() };
    let mut head = train_head(&train_x, &ty, &val_x, &vy, 3, config, &never, |_| {}).unwrap();
    let head_epochs = head.history.len();
    let stage = unfreeze::UnfreezeConfig { blocks: 1, max_epochs: 3, patience: 3, batch_size: 6, ..Default::default() };
    let mut seen = Vec::new();
    let backbone = unfreeze::train_backbone(
        &features_path,
        Device::Cpu,
        &mut head,
        &inputs(&train),
        &ty,
        &inputs(&val),
        &vy,
        stage,
        &never,
        |e| seen.push(e.clone()),
    )
    .unwrap();
    assert_eq!(seen.len(), 3, "three epochs of the unfrozen stage");
    for e in &seen {
        assert!(e.train_loss.is_finite() && e.train_loss > 0.0, "{e:?}");
    }
    // The best epoch is kept. Single epochs may dip: the augmentation draws come from torch's
    // one global generator, which tests running beside this one draw from too.
    assert!(head.best_val_accuracy > 0.5, "still beats chance: {seen:?}");
    assert_eq!(head.history.len(), head_epochs + 3);
    // The trained backbone is a module of its own that still produces features.
    let f = tch::no_grad(|| backbone.forward_ts(&[inputs(&val[..1])])).unwrap();
    assert_eq!(f.size(), [1, manifest.feature_dim.unwrap_or(1280) as i64]);
    assert!(f.isfinite().all().int64_value(&[]) == 1);
}

#[test]
fn the_last_blocks_train_on_cached_activations_and_serve_from_the_same_backbone() {
    let base = crate::testing::test_model_dir();
    let manifest = Manifest::read(&base).unwrap();
    let features_path = base.join(manifest.files.features.as_ref().unwrap());
    let features = CModule::load_on_device(&features_path, Device::Cpu).unwrap();
    let prep = Preprocessing::from(&manifest);
    let size = prep.input_size as i64;
    let split_size = |path: &std::path::Path, blocks| cached_blocks::activation_size(path, blocks, size);
    assert_eq!(split_size(&features_path, 3), Some(192 * 7 * 7), "the shipped backbone splits");
    assert_eq!(split_size(&features_path, 6), Some(112 * 14 * 14), "six blocks back: the 14×14 stage");
    assert_eq!((split_size(&features_path, 0), split_size(&features_path, 7)), (None, None), "beyond the export");
    assert_eq!(split_size(&base.join("cam_features.pt"), 3), None, "a module without the methods");
    let never = AtomicBool::new(false);
    let ((train, train_labels), (val, val_labels)) = three_colours();
    let activations = |photos: &[Vec<u8>]| {
        let trunk = |batch| cached_blocks::trunk(&features, 2, batch, Kind::Half);
        extract(Device::Cpu, prep, photos, augment::View::Plain, &never, |_| {}, trunk).unwrap()
    };
    let (train_a, val_a) = (activations(&train), activations(&val));
    assert_eq!(train_a.kind(), Kind::Half, "kept in half precision");
    // The frozen last blocks give the backbone's own features, within fp16 rounding.
    let train_x = cached_blocks::pooled(&features, Device::Cpu, 2, &train_a, &never).unwrap();
    let whole = extract_features(&features, Device::Cpu, prep, &train, augment::View::Plain, &never, |_| {}).unwrap();
    let relative = (&train_x - &whole).abs().mean(Kind::Float) / whole.abs().mean(Kind::Float);
    assert!(relative.double_value(&[]) < 1e-2, "split features differ by {relative}");
    let stopped = cached_blocks::pooled(&features, Device::Cpu, 2, &train_a, &AtomicBool::new(true));
    assert!(matches!(stopped, Err(TrainingError::Cancelled)));
    let val_x = cached_blocks::pooled(&features, Device::Cpu, 2, &val_a, &never).unwrap();
    let (ty, vy) = (Tensor::from_slice(&train_labels), Tensor::from_slice(&val_labels));
    // A head barely trained, so that the blocks' epochs have something to improve.
    let config = HeadConfig { hidden: 0, max_epochs: 1, learning_rate: 1e-4, ..Default::default() };
    let mut head = train_head(&train_x, &ty, &val_x, &vy, 3, config, &never, |_| {}).unwrap();
    let (head_epochs, head_accuracy) = (head.history.len(), head.best_val_accuracy);
    let stage = cached_blocks::CachedBlocksConfig {
        blocks: 2,
        max_epochs: 3,
        patience: 3,
        batch_size: 6,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let backbone =
        cached_blocks::train(&features_path, Device::Cpu, &mut head, &train_a, &ty, &val_a, &vy, stage, &never, |e| {
            seen.push(e.clone())
        })
        .unwrap();
    assert_eq!(seen.len(), 3, "three epochs");
    assert!(seen.iter().all(|e| e.train_loss.is_finite() && e.train_loss > 0.0), "{seen:?}");
    assert!(head.best_val_accuracy > 0.5, "beats chance: {head_accuracy} → {seen:?}");
    assert_eq!(head.history.len(), head_epochs + 3);
    // What was trained through the tail is what the backbone's forward pass (the one a bundle
    // serves) computes: the methods share their parameters.
    let input =
        Tensor::from_slice(&crate::inference::preprocess::prepare(&val[0], prep).unwrap()).view([1, 3, size, size]);
    let served = tch::no_grad(|| backbone.forward_ts(&[&input])).unwrap();
    let trunk = tch::no_grad(|| backbone.method_ts("trunk_last_2", &[&input])).unwrap();
    let split = tch::no_grad(|| backbone.method_ts("tail_last_2", &[trunk])).unwrap();
    assert!((&served - &split).abs().max().double_value(&[]) < 1e-4);
    // The best epoch is kept, the untrained blocks when no epoch beat them.
    let before = tch::no_grad(|| features.forward_ts(&[&input])).unwrap();
    let changed = (&served - &before).abs().max().double_value(&[]) > 1e-4;
    assert_eq!(changed, head.best_val_accuracy > head_accuracy, "{head_accuracy} → {seen:?}");
    let cancelled = cached_blocks::train(
        &features_path,
        Device::Cpu,
        &mut head,
        &train_a,
        &ty,
        &val_a,
        &vy,
        stage,
        &AtomicBool::new(true),
        |_| {},
    );
    assert!(matches!(cancelled, Err(TrainingError::Cancelled)));
}

#[test]
fn the_late_epochs_are_averaged_and_the_average_kept_only_when_val_agrees() {
    let base = crate::testing::test_model_dir();
    let manifest = Manifest::read(&base).unwrap();
    let features_path = base.join(manifest.files.features.as_ref().unwrap());
    let never = AtomicBool::new(false);
    let x = Tensor::from_slice(&[0f32, 1., 1., 0., 0., 1., 1., 0.]).view([4, 2]);
    let y = Tensor::from_slice(&[0i64, 1, 0, 1]);
    let config = HeadConfig { hidden: 0, max_epochs: 1, ..Default::default() };
    // Logits right for every val photo, or wrong for every one.
    let right = Tensor::from_slice(&[9f32, 0., 0., 9., 9., 0., 0., 9.]).view([4, 2]);
    let wrong = right.flip([1]);
    for average_scores_better in [true, false] {
        let mut head = train_head(&x, &y, &x, &y, 2, config, &never, |_| {}).unwrap();
        let history = head.history.len();
        // One weight stands for the blocks; the backbone is only carried through.
        let blocks = nn::VarStore::new(Device::Cpu);
        let w = blocks.root().zeros("w", &[1]);
        let mut backbone = tch::TrainableCModule::load(&features_path, nn::VarStore::new(Device::Cpu).root()).unwrap();
        let head_weight = head.vs.variables().into_values().next().unwrap();
        let set = |v: f64| {
            tch::no_grad(|| {
                let _ = w.shallow_clone().fill_(v);
                let _ = head_weight.shallow_clone().fill_(v * 10.0);
            })
        };
        let mut best = best_epoch::BestEpoch::new(0.5, &blocks, &head, 5, 3);
        for (epoch, weight, val) in [(1, 1.0, 0.5), (2, 2.0, 0.75), (3, 4.0, 0.5)] {
            set(weight);
            assert!(best.record((epoch, 0.1, val), &blocks, &mut head, &mut |_| {}));
        }
        // The second half of three epochs, 2 and 3, averaged: a weight of 3.
        let evaluate = |_: &tch::TrainableCModule, _: &TrainedHead| -> Result<Tensor, TrainingError> {
            let average = (w.double_value(&[0]) - 3.0).abs() < 1e-6;
            Ok(if average == average_scores_better { right.copy() } else { wrong.copy() })
        };
        best.finish(&blocks, &mut backbone, &mut head, &y, evaluate).unwrap();
        let averaged = head.averaged.clone().expect("the late epochs were averaged");
        assert_eq!((averaged.first_epoch, averaged.last_epoch, averaged.best_epoch), (2, 3, 2));
        assert_eq!((averaged.best_val_accuracy, averaged.kept), (0.75, average_scores_better));
        let (weight, val) = if average_scores_better { (3.0, 1.0) } else { (2.0, 0.75) };
        assert_eq!((w.double_value(&[0]), head.best_val_accuracy), (weight, val), "{averaged}");
        assert_eq!(head_weight.flatten(0, -1).double_value(&[0]), weight * 10.0, "the head comes back with the blocks");
        assert_eq!(head.temperature, fit_temperature(&right, &y), "fitted on the weights it ended with");
        assert_eq!(head.history.len(), history + 3);
    }
}
