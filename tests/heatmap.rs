//! Grad-CAM through tch autograd on the real bundle.

use insectid::inference::heatmap::HeatMapper;
use insectid::inference::{preprocess, Manifest, ModelBundle};
use insectid::testing::test_model_dir;

#[test]
fn heat_maps_explain_the_models_own_top_class() {
    let dir = test_model_dir();
    let manifest = Manifest::read(&dir).unwrap();
    let mapper =
        HeatMapper::load(&dir, &manifest, tch::Device::Cpu).unwrap().expect("the default bundle has heat-map modules");
    let photo = image::open(dir.join("fixtures/rgb.png")).unwrap();
    let square = preprocess::crop_square(&photo, (&manifest).into());
    let (heat, class) = mapper.heat(&square, None).unwrap();
    assert_eq!(heat.len(), (square.width() * square.height()) as usize);
    assert!(heat.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
    assert!((heat.iter().copied().fold(0.0f32, f32::max) - 1.0).abs() < 1e-4, "normalised to its maximum");

    // The split modules compute what the classifier computes.
    let bundle = ModelBundle::load(&dir, tch::Device::Cpu).unwrap();
    let input = preprocess::model_input(&photo, bundle.preprocessing()).unwrap();
    let probs = &bundle.probabilities(&[&input]).unwrap()[0];
    assert_eq!(class, bundle.top_k(probs, 1)[0].index);

    // Another class gives another map.
    let (other, other_class) = mapper.heat(&square, Some(301)).unwrap();
    assert_eq!(other_class, 301);
    assert!(heat.iter().zip(&other).any(|(a, b)| (a - b).abs() > 0.05));

    let (overlay, _) = mapper.overlay(&photo, None, 200).unwrap();
    assert_eq!(overlay.dimensions(), (200, 200));
}

#[test]
fn bundles_without_heat_map_modules_have_no_mapper() {
    let dir = test_model_dir();
    let mut manifest = Manifest::read(&dir).unwrap();
    manifest.files.cam_features = None;
    assert!(HeatMapper::load(&dir, &manifest, tch::Device::Cpu).unwrap().is_none());
}
