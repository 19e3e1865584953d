//! Fine-tuning in Rust with tch: a new classifier head on the bundle's frozen backbone
//! (`features.pt`), trained on cached features with class-balanced loss, early stopping on the
//! validation split and temperature scaling, exported as a new TorchScript bundle that the
//! engine loads like any other.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tch::nn::{self, Module, OptimizerConfig};
use tch::{CModule, Device, Kind, Tensor};

use crate::inference::preprocess::{self, Preprocessing};
use crate::inference::{Label, Manifest, ModelBundle, TestTime};

pub mod augment;
mod best_epoch;
pub mod cached_blocks;
pub mod unfreeze;

pub use best_epoch::Averaged;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TrainingError {
    #[error("{0}")]
    Input(String),
    #[error("training was cancelled")]
    Cancelled,
    #[error("torch: {0}")]
    Torch(String),
}

impl From<tch::TchError> for TrainingError {
    fn from(e: tch::TchError) -> Self {
        TrainingError::Torch(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadConfig {
    /// 0 trains a linear head; otherwise one hidden layer of this width.
    pub hidden: i64,
    pub max_epochs: usize,
    /// Epochs without a better validation accuracy before stopping.
    pub patience: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: i64,
    pub seed: i64,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            hidden: 512,
            max_epochs: 60,
            patience: 10,
            learning_rate: 1e-3,
            weight_decay: 1e-3,
            batch_size: 64,
            seed: 1,
        }
    }
}

/// One epoch's figures, for the progress display and the loss curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_accuracy: f64,
    pub seconds: f64,
}

/// Pooled backbone features of each photo's `view`, computed once and kept. `done(n)` hears
/// after each batch how many photos are finished; `cancel` stops between batches.
pub fn extract_features(
    features: &CModule,
    device: Device,
    prep: Preprocessing,
    photos: &[Vec<u8>],
    view: augment::View,
    cancel: &AtomicBool,
    done: impl FnMut(usize),
) -> Result<Tensor, TrainingError> {
    let pooled = |batch: Tensor| Ok(tch::no_grad(|| features.forward_ts(&[batch]))?.to_device(Device::Cpu));
    extract(device, prep, photos, view, cancel, done, pooled)
}

/// What `run` makes of each batch of prepared inputs of the photos' `view` (on `device`),
/// concatenated: pooled features, or the activations a backbone's last blocks train on.
pub fn extract(
    device: Device,
    prep: Preprocessing,
    photos: &[Vec<u8>],
    view: augment::View,
    cancel: &AtomicBool,
    mut done: impl FnMut(usize),
    mut run: impl FnMut(Tensor) -> Result<Tensor, TrainingError>,
) -> Result<Tensor, TrainingError> {
    let size = prep.input_size as i64;
    let mut rows = Vec::new();
    let mut finished = 0;
    for chunk in photos.chunks(16) {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainingError::Cancelled);
        }
        let mut inputs = Vec::new();
        for (i, bytes) in chunk.iter().enumerate() {
            let image = preprocess::decode(bytes, Some(prep.resize_shorter))
                .map_err(|e| TrainingError::Input(e.to_string()))?;
            let image = augment::apply(image, view, finished + i);
            inputs.extend(preprocess::model_input(&image, prep).map_err(|e| TrainingError::Input(e.to_string()))?);
        }
        let mut batch = Tensor::from_slice(&inputs).view([chunk.len() as i64, 3, size, size]).to_device(device);
        if view == augment::View::InputMirrored {
            batch = batch.flip([3]);
        }
        rows.push(run(batch)?);
        finished += chunk.len();
        done(finished);
    }
    Ok(Tensor::cat(&rows, 0))
}

/// The trained head with what it needs to run: feature standardisation and temperature.
pub struct TrainedHead {
    vs: nn::VarStore,
    net: nn::Sequential,
    mean: Tensor,
    std: Tensor,
    pub temperature: f64,
    pub best_val_accuracy: f64,
    pub history: Vec<Epoch>,
    /// How averaging the last epochs' weights did, when a stage that trains blocks averaged.
    pub averaged: Option<Averaged>,
}

impl TrainedHead {
    /// Calibrated logits for pooled features.
    pub fn logits(&self, features: &Tensor) -> Tensor {
        self.raw_logits(features) / self.temperature
    }

    /// Logits before temperature scaling.
    fn raw_logits(&self, features: &Tensor) -> Tensor {
        self.net.forward(&((features - &self.mean) / &self.std))
    }

    fn classes(&self) -> i64 {
        self.vs.variables().get("out.bias").map_or(0, |bias| bias.size()[0])
    }

    fn move_to(&mut self, device: Device) {
        self.vs.set_device(device);
        self.mean = self.mean.to_device(device);
        self.std = self.std.to_device(device);
    }
}

fn head(path: &nn::Path, dim: i64, hidden: i64, classes: i64) -> nn::Sequential {
    if hidden == 0 {
        return nn::seq().add(nn::linear(path / "out", dim, classes, Default::default()));
    }
    nn::seq().add(nn::linear(path / "hidden", dim, hidden, Default::default())).add_fn(|x| x.relu()).add(nn::linear(
        path / "out",
        hidden,
        classes,
        Default::default(),
    ))
}

fn accuracy(logits: &Tensor, labels: &Tensor) -> f64 {
    logits.argmax(-1, false).eq_tensor(labels).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
}

/// Trains a head on cached features; stops early on validation accuracy and keeps the best
/// epoch's weights. `progress` sees every epoch; `cancel` stops between epochs.
// Four tensors, the shape, the recipe and two hooks: grouping them would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn train_head(
    train_x: &Tensor,
    train_y: &Tensor,
    val_x: &Tensor,
    val_y: &Tensor,
    classes: i64,
    config: HeadConfig,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&Epoch),
) -> Result<TrainedHead, TrainingError> {
    tch::manual_seed(config.seed);
    let n = train_x.size()[0];
    let dim = train_x.size()[1];
    if n == 0 || val_x.size()[0] == 0 {
        return Err(TrainingError::Input("training needs photos in both the train and the val split".into()));
    }
    let mean = train_x.mean_dim(0, true, Kind::Float);
    // A floor on each feature's spread: a feature (nearly) constant over the training photos
    // must not turn a small difference in a new photo into a huge input.
    let spread = train_x.std_dim(0, true, true);
    let std = spread.clamp_min(spread.mean(Kind::Float).double_value(&[]).max(1e-6) * 0.1);
    let (xt, xv) = ((train_x - &mean) / &std, (val_x - &mean) / &std);
    // Class-balanced: each class weighs the same in the loss, however many photos it has.
    let counts = train_y.bincount::<Tensor>(None, classes).to_kind(Kind::Float);
    let weights = (counts.sum(Kind::Float) / (counts.clamp_min(1.0) * classes as f64)).to_kind(Kind::Float);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = head(&vs.root(), dim, config.hidden, classes);
    let mut opt = nn::AdamW::default().wd(config.weight_decay).build(&vs, config.learning_rate)?;
    let mut best = (-1.0f64, 0usize);
    let mut best_weights = Vec::new();
    let mut history = Vec::new();
    let started = Instant::now();
    for epoch in 1..=config.max_epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainingError::Cancelled);
        }
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        let mut total = 0.0;
        let mut batches = 0;
        let mut start = 0;
        while start < n {
            let idx = order.narrow(0, start, config.batch_size.min(n - start));
            let logits = net.forward(&xt.index_select(0, &idx));
            let loss = logits.cross_entropy_loss::<Tensor>(
                &train_y.index_select(0, &idx),
                Some(weights.shallow_clone()),
                tch::Reduction::Mean,
                -100,
                0.1,
            );
            opt.backward_step(&loss);
            total += loss.double_value(&[]);
            batches += 1;
            start += config.batch_size;
        }
        let val_accuracy = tch::no_grad(|| accuracy(&net.forward(&xv), val_y));
        let e = Epoch {
            epoch,
            train_loss: total / batches.max(1) as f64,
            val_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        progress(&e);
        history.push(e);
        if val_accuracy > best.0 {
            best = (val_accuracy, epoch);
            best_weights = vs.variables().into_iter().map(|(k, v)| (k, v.detach().copy())).collect();
        } else if epoch - best.1 >= config.patience {
            break;
        }
    }
    tch::no_grad(|| {
        let mut vars = vs.variables();
        for (name, value) in &best_weights {
            if let Some(v) = vars.get_mut(name) {
                v.copy_(value);
            }
        }
    });
    // Trained: its weights become constants of the exported graph, which must not need grad.
    let mut vs = vs;
    vs.freeze();
    let val_logits = tch::no_grad(|| net.forward(&xv));
    let temperature = fit_temperature(&val_logits, val_y);
    Ok(TrainedHead { vs, net, mean, std, temperature, best_val_accuracy: best.0, history, averaged: None })
}

/// Val top-1 with test-time flip, where each photo's logits are averaged with its mirror
/// image's (features of both given), as the engine will compute them for a bundle declaring
/// `TestTime::Flip`; the temperature is refitted on those averages.
pub fn calibrate_flip(trained: &mut TrainedHead, val_x: &Tensor, mirrored_x: &Tensor, val_y: &Tensor) -> f64 {
    let averaged = tch::no_grad(|| (trained.raw_logits(val_x) + trained.raw_logits(mirrored_x)) / 2.0);
    trained.temperature = fit_temperature(&averaged, val_y);
    accuracy(&averaged, val_y)
}

/// Val top-1 of the trained head on these features, without test-time augmentation.
pub fn plain_accuracy(trained: &TrainedHead, val_x: &Tensor, val_y: &Tensor) -> f64 {
    tch::no_grad(|| accuracy(&trained.raw_logits(val_x), val_y))
}

/// The temperature that minimises the validation negative log-likelihood (Guo et al. 2017),
/// found by a fine grid: one parameter needs no optimiser.
pub fn fit_temperature(logits: &Tensor, labels: &Tensor) -> f64 {
    let nll = |t: f64| (logits / t).cross_entropy_for_logits(labels).double_value(&[]);
    (5..=500).map(|i| i as f64 / 100.0).min_by(|a, b| nll(*a).total_cmp(&nll(*b))).unwrap_or(1.0)
}

/// Writes a bundle of the base's backbone (`features.pt`) and this head (`head.pt`, traced),
/// with the given labels; then loads it as the engine would, to prove it.
/// `backbone` is the trained one when its last blocks were unfrozen; the base's otherwise.
// The base, what was trained, and what to call it and where: each is its own input.
#[allow(clippy::too_many_arguments)]
pub fn export_bundle(
    base_dir: &Path,
    trained: &TrainedHead,
    backbone: Option<&tch::TrainableCModule>,
    test_time: TestTime,
    labels: Vec<Label>,
    name: &str,
    version: &str,
    out: &Path,
) -> Result<Manifest, TrainingError> {
    let base = Manifest::read(base_dir).map_err(|e| TrainingError::Input(e.to_string()))?;
    let features_file = base
        .files
        .features
        .clone()
        .ok_or_else(|| TrainingError::Input("the base bundle has no features.pt to fine-tune".into()))?;
    std::fs::create_dir_all(out).map_err(|e| TrainingError::Input(e.to_string()))?;
    // The head alone is traced (pure tensor operations); the bundle runs backbone then head.
    let dim = trained.mean.size()[1];
    let example = Tensor::zeros([1, dim], (Kind::Float, Device::Cpu));
    let mut forward = |inputs: &[Tensor]| vec![trained.logits(&inputs[0])];
    let traced = CModule::create_by_tracing("FineTunedHead", "forward", &[example], &mut forward)?;
    traced.save(out.join("head.pt"))?;
    match backbone {
        Some(b) => b.save(out.join("features.pt"))?,
        None => {
            std::fs::copy(base_dir.join(&features_file), out.join("features.pt"))
                .map_err(|e| TrainingError::Input(e.to_string()))?;
        }
    }
    let mut manifest = base.clone();
    manifest.name = name.to_string();
    manifest.version = version.to_string();
    let what = if backbone.is_some() { "last blocks and head" } else { "head" };
    let mirror = if test_time == TestTime::Flip { ", averaged with the mirror image" } else { "" };
    manifest.description = format!(
        "{} fine-tuned on {} classes ({what}, temperature {:.2}{mirror})",
        base.name,
        labels.len(),
        trained.temperature
    );
    manifest.labels = labels;
    manifest.test_time = test_time;
    // The backbone trained and saved here is the base's fp32 one, whatever the base ran.
    manifest.precision = crate::inference::Precision::Fp32;
    manifest.files.model = "features.pt".into();
    manifest.files.features = Some("features.pt".into());
    manifest.files.head = Some("head.pt".into());
    manifest.files.cam_features = None;
    manifest.files.cam_head = None;
    manifest.files.model_7bit = None;
    manifest.sha256.clear();
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| TrainingError::Input(e.to_string()))?;
    std::fs::write(out.join("manifest.json"), text).map_err(|e| TrainingError::Input(e.to_string()))?;
    ModelBundle::load(out, Device::Cpu)
        .map_err(|e| TrainingError::Input(format!("the exported bundle does not load: {e}")))?;
    let _ = &trained.vs;
    Ok(manifest)
}

#[cfg(test)]
mod tests;
