//! Where the model looked: Grad-CAM on the last convolutional block, through tch autograd.
//! The gradient of the chosen class's logit with respect to the block's activations weights
//! each channel; their weighted sum, rectified, is the heat map.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use image::{DynamicImage, Rgb, RgbImage};
use tch::{CModule, Device, Kind, Tensor};

use super::preprocess::{self, Preprocessing};
use super::{DevicePreference, InferenceError, Manifest};

pub struct HeatMapper {
    features: CModule,
    head: CModule,
    device: Device,
    preprocessing: Preprocessing,
}

impl HeatMapper {
    /// None when the bundle ships no heat-map modules.
    pub fn load(dir: &Path, manifest: &Manifest, device: Device) -> Result<Option<Self>, InferenceError> {
        let (Some(f), Some(h)) = (&manifest.files.cam_features, &manifest.files.cam_head) else {
            return Ok(None);
        };
        let invalid = |reason: String| InferenceError::InvalidBundle { path: dir.display().to_string(), reason };
        let features = CModule::load_on_device(dir.join(f), device).map_err(|e| invalid(format!("{f}: {e}")))?;
        let head = CModule::load_on_device(dir.join(h), device).map_err(|e| invalid(format!("{h}: {e}")))?;
        Ok(Some(HeatMapper { features, head, device, preprocessing: Preprocessing::from(manifest) }))
    }

    /// The heat map for `class` (or the top class) over the square the model saw, values 0..1,
    /// `side`×`side`, row-major; and the class it explains.
    pub fn heat(&self, square: &RgbImage, class: Option<usize>) -> Result<(Vec<f32>, usize), InferenceError> {
        let p = self.preprocessing;
        let input = preprocess::resize_normalise(square, p)?;
        let size = p.input_size as i64;
        let x = Tensor::from_slice(&input).view([1, 3, size, size]).to_device(self.device);
        let activations = tch::no_grad(|| self.features.forward_ts(&[x]))?.detach().set_requires_grad(true);
        let logits = self.head.forward_ts(&[&activations])?;
        let width = logits.size().last().copied().unwrap_or(0);
        let class = match class {
            Some(c) if (c as i64) < width => c,
            _ => logits.argmax(-1, false).int64_value(&[0]) as usize,
        };
        let target = logits.get(0).get(class as i64);
        let grads = Tensor::f_run_backward(&[target], &[&activations], false, false)?;
        let grad = grads.into_iter().next().ok_or_else(|| InferenceError::Torch("no gradient".into()))?;
        let side = square.width() as i64;
        let heat = tch::no_grad(|| -> Result<Tensor, tch::TchError> {
            let weights = grad.mean_dim(&[2i64, 3][..], true, Kind::Float);
            let cam = (weights * &activations).sum_dim_intlist(&[1i64][..], true, Kind::Float).relu();
            let cam = cam.f_upsample_bilinear2d([side, side], false, None, None)?;
            let max = cam.max().double_value(&[]).max(1e-12);
            Ok((cam / max).to_device(Device::Cpu).contiguous().view([-1]))
        })?;
        Ok((Vec::<f32>::try_from(&heat)?, class))
    }

    /// The photo's square with the heat map laid over it (blue: ignored … red: decisive),
    /// at most `max_side` pixels wide.
    pub fn overlay(
        &self,
        image: &DynamicImage,
        class: Option<usize>,
        max_side: u32,
    ) -> Result<(RgbImage, usize), InferenceError> {
        let mut square = preprocess::crop_square(image, self.preprocessing);
        if square.width() > max_side {
            square = image::imageops::resize(&square, max_side, max_side, image::imageops::FilterType::Triangle);
        }
        let (heat, class) = self.heat(&square, class)?;
        let side = square.width();
        let out = RgbImage::from_fn(side, side, |x, y| {
            let v = heat[(y * side + x) as usize].clamp(0.0, 1.0);
            let colour = colormap(v);
            let photo = square.get_pixel(x, y).0;
            let alpha = 0.25 + 0.45 * v;
            let mix = |i: usize| (photo[i] as f32 * (1.0 - alpha) + colour[i] as f32 * alpha).round() as u8;
            Rgb([mix(0), mix(1), mix(2)])
        });
        Ok((out, class))
    }
}

/// Blue → cyan → yellow → red.
fn colormap(v: f32) -> [u8; 3] {
    let stops = [
        (0.0, [30.0, 60.0, 200.0]),
        (0.35, [40.0, 200.0, 220.0]),
        (0.65, [250.0, 220.0, 40.0]),
        (1.0, [220.0, 30.0, 30.0]),
    ];
    for w in stops.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if v <= b {
            let t = ((v - a) / (b - a)).clamp(0.0, 1.0);
            return [0, 1, 2].map(|i| (ca[i] + (cb[i] - ca[i]) * t) as u8);
        }
    }
    [220, 30, 30]
}

/// The active model's heat-map modules, shared by the requests that draw them and replaced
/// whenever the active model changes. They load on the device the engine is configured for.
#[derive(Clone)]
pub struct HeatMaps {
    mapper: Arc<Mutex<Option<HeatMapper>>>,
    device: DevicePreference,
}

impl HeatMaps {
    /// The modules of the bundle in `dir`; a bundle that has them but cannot load them fails.
    pub async fn load(dir: PathBuf, manifest: Manifest, device: DevicePreference) -> Result<Self, InferenceError> {
        let mapper = Self::load_blocking(dir, manifest, device).await?;
        Ok(HeatMaps { mapper: Arc::new(Mutex::new(mapper)), device })
    }

    /// After a switch: the new model's modules, or none (with a warning) when they do not load,
    /// so that heat maps never explain another model than the one that answered.
    pub async fn reload(&self, dir: PathBuf, manifest: Manifest) {
        let mapper = match Self::load_blocking(dir, manifest, self.device).await {
            Ok(mapper) => mapper,
            Err(e) => {
                tracing::warn!(error = %e, "no heat maps for the new model");
                None
            }
        };
        *self.mapper.lock().unwrap_or_else(PoisonError::into_inner) = mapper;
    }

    /// Runs `draw` with the modules (None when the model has none). A panic while drawing
    /// poisons the lock but leaves the modules as they were, so later requests use them.
    pub fn with<T>(&self, draw: impl FnOnce(Option<&HeatMapper>) -> T) -> T {
        let guard = self.mapper.lock().unwrap_or_else(PoisonError::into_inner);
        draw(guard.as_ref())
    }

    async fn load_blocking(
        dir: PathBuf,
        manifest: Manifest,
        device: DevicePreference,
    ) -> Result<Option<HeatMapper>, InferenceError> {
        let device = device.resolve()?;
        tokio::task::spawn_blocking(move || HeatMapper::load(&dir, &manifest, device))
            .await
            .map_err(|e| InferenceError::Device(format!("loading the heat-map modules stopped: {e}")))?
    }
}
