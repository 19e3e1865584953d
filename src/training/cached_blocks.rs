//! Training the backbone's last blocks on a CPU: the frozen part of the backbone (the *trunk*)
//! runs once per photo view and its output — the activations entering the last blocks — is kept
//! in fp16; then the last blocks and the head train on those for many epochs, each costing only
//! the last blocks' forward and backward passes instead of the whole backbone's.
//!
//! A backbone can be split when its `features.pt` carries the traced methods
//! `trunk_last_B` / `tail_last_B` (`scripts/bundle_parts.py::traced_features`); the parameters
//! are shared with `forward`, so the trained backbone is saved and served as before.

use std::f64::consts::PI;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use tch::nn::{self, OptimizerConfig};
use tch::{CModule, Device, Kind, Tensor, TrainableCModule};

use super::best_epoch::BestEpoch;
use super::unfreeze::{self, block_count, class_weights, trains};
use super::{accuracy, Epoch, TrainedHead, TrainingError};

/// The most last blocks a backbone export offers to split off (SPLIT_BLOCKS in bundle_parts.py).
pub const MAX_BLOCKS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CachedBlocksConfig {
    /// How many of the backbone's last blocks train (the final 1×1 convolution always does).
    pub blocks: usize,
    pub max_epochs: usize,
    pub patience: usize,
    /// Peak learning rate of the blocks (one cycle: warm-up, then cosine decay to zero);
    /// the head's is twice this.
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: i64,
    /// Share of batches trained on mixed pairs of samples (mixup of the activations,
    /// Beta(0.4, 0.4) weights).
    pub mixup_share: f64,
    /// Seeds torch's generator (batch order, mixup draws) so a run repeats.
    pub seed: i64,
}

impl Default for CachedBlocksConfig {
    fn default() -> Self {
        CachedBlocksConfig {
            blocks: 3,
            max_epochs: 12,
            patience: 5,
            learning_rate: 5e-4,
            weight_decay: 0.02,
            batch_size: 64,
            mixup_share: 0.5,
            seed: 1,
        }
    }
}

fn trunk_method(blocks: usize) -> String {
    format!("trunk_last_{blocks}")
}

fn tail_method(blocks: usize) -> String {
    format!("tail_last_{blocks}")
}

/// How many values one photo's activations before the last `blocks` blocks hold, when the
/// backbone at `path` can be split there (None for one exported before splits existed: its
/// fine-tunes train the whole backbone instead). Loads the module and runs both halves once.
pub fn activation_size(path: &Path, blocks: usize, input_size: i64) -> Option<i64> {
    if blocks == 0 || blocks > MAX_BLOCKS {
        return None;
    }
    let module = CModule::load_on_device(path, Device::Cpu).ok()?;
    let probe = Tensor::zeros([1, 3, input_size, input_size], (Kind::Float, Device::Cpu));
    tch::no_grad(|| {
        let a = module.method_ts(&trunk_method(blocks), &[probe]).ok()?;
        let pooled = module.method_ts(&tail_method(blocks), &[&a]).ok()?;
        (pooled.dim() == 2).then_some(a.numel() as i64)
    })
}

/// The activations entering the last `blocks` blocks, for prepared inputs (N×3×S×S), as `kind`
/// (fp16 for the train views, fp32 for the val photos the temperature is fitted on) on the CPU.
pub fn trunk(module: &CModule, blocks: usize, inputs: Tensor, kind: Kind) -> Result<Tensor, TrainingError> {
    Ok(tch::no_grad(|| module.method_ts(&trunk_method(blocks), &[inputs]))?.to_kind(kind).to_device(Device::Cpu))
}

/// Pooled features of cached activations through the (frozen) last blocks, on the CPU;
/// `cancel` stops between batches.
pub fn pooled(
    module: &CModule,
    device: Device,
    blocks: usize,
    activations: &Tensor,
    cancel: &AtomicBool,
) -> Result<Tensor, TrainingError> {
    let method = tail_method(blocks);
    let n = activations.size()[0];
    let mut rows = Vec::new();
    for start in (0..n).step_by(64) {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainingError::Cancelled);
        }
        let a = activations.narrow(0, start, 64.min(n - start)).to_device(device).to_kind(Kind::Float);
        rows.push(tch::no_grad(|| module.method_ts(&method, &[a]))?.to_device(Device::Cpu));
    }
    Ok(if rows.is_empty() { Tensor::zeros([0, 0], (Kind::Float, Device::Cpu)) } else { Tensor::cat(&rows, 0) })
}

/// The learning rate at `step` of `total`: a linear warm-up over the first 5 %, then a cosine
/// decay to zero.
fn one_cycle(peak: f64, step: usize, total: usize) -> f64 {
    let warm = (total / 20).max(1);
    if step < warm {
        return peak * (0.1 + 0.9 * step as f64 / warm as f64);
    }
    let progress = (step - warm) as f64 / (total - warm).max(1) as f64;
    peak * 0.5 * (1.0 + (PI * progress.min(1.0)).cos())
}

/// Trains the last `config.blocks` blocks of the backbone at `backbone_path` with `head`, on
/// cached activations (fp16, N×C×H×W, CPU) of the train views and of the val photos; keeps the
/// best epoch on val and returns the trained backbone (save it with `.save`).
#[allow(clippy::too_many_arguments)]
pub fn train(
    backbone_path: &Path,
    device: Device,
    head: &mut TrainedHead,
    train_a: &Tensor,
    train_y: &Tensor,
    val_a: &Tensor,
    val_y: &Tensor,
    config: CachedBlocksConfig,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&Epoch),
) -> Result<TrainableCModule, TrainingError> {
    if train_a.size()[0] == 0 || val_a.size()[0] == 0 {
        return Err(TrainingError::Input("training needs photos in both the train and the val split".into()));
    }
    tch::manual_seed(config.seed);
    let batch = config.batch_size.max(1);
    let vs = nn::VarStore::new(device);
    let mut backbone = TrainableCModule::load(backbone_path, vs.root())?;
    // Batch norm keeps its running statistics, as in the full-backbone stage.
    backbone.set_eval();
    let first_block = block_count(&vs).saturating_sub(config.blocks);
    for (name, t) in vs.variables() {
        let _ = t.set_requires_grad(trains(&name, first_block));
    }
    let classes = head.classes();
    if classes < 2 {
        return Err(TrainingError::Input(format!("the head has {classes} classes")));
    }
    head.move_to(device);
    head.vs.unfreeze();
    let mut opt_blocks = nn::AdamW::default().wd(config.weight_decay).build(&vs, config.learning_rate)?;
    let mut opt_head = nn::AdamW::default().wd(config.weight_decay).build(&head.vs, config.learning_rate * 2.0)?;
    let weights = class_weights(train_y, classes).to_device(device);
    let tail = tail_method(config.blocks);
    let forward = |backbone: &TrainableCModule, a: Tensor| -> Result<Tensor, TrainingError> {
        Ok(backbone.method_ts(&tail, &[a])?)
    };
    let evaluate = |backbone: &TrainableCModule, head: &TrainedHead| -> Result<Tensor, TrainingError> {
        tch::no_grad(|| {
            let mut rows = Vec::new();
            let n = val_a.size()[0];
            for start in (0..n).step_by(128) {
                let a = val_a.narrow(0, start, 128.min(n - start)).to_device(device).to_kind(Kind::Float);
                rows.push(head.raw_logits(&forward(backbone, a)?).to_device(Device::Cpu));
            }
            Ok(Tensor::cat(&rows, 0))
        })
    };
    let loss_of = |logits: &Tensor, y: &Tensor| {
        logits.cross_entropy_loss::<Tensor>(y, Some(weights.shallow_clone()), tch::Reduction::Mean, -100, 0.1)
    };
    // The second half of the one cycle, where the learning rate decays, is averaged.
    let untrained = accuracy(&evaluate(&backbone, head)?, val_y);
    let mut best = BestEpoch::new(untrained, &vs, head, config.patience, config.max_epochs);
    let n = train_a.size()[0];
    let steps_per_epoch = (n as usize).div_ceil(batch as usize);
    let total_steps = steps_per_epoch * config.max_epochs;
    let beta = Tensor::from_slice(&[0.4f64, 0.4]);
    let mut steps = 0usize;
    for epoch in 1..=config.max_epochs {
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        let (mut total, mut batches) = (0.0, 0);
        for start in (0..n).step_by(batch as usize) {
            if cancel.load(Ordering::Relaxed) {
                return Err(TrainingError::Cancelled);
            }
            let lr = one_cycle(config.learning_rate, steps, total_steps);
            opt_blocks.set_lr(lr);
            opt_head.set_lr(lr * 2.0);
            let idx = order.narrow(0, start, batch.min(n - start));
            let a = train_a.index_select(0, &idx).to_device(device).to_kind(Kind::Float);
            let y = train_y.index_select(0, &idx).to_device(device);
            let mix = Tensor::rand([1], (Kind::Float, Device::Cpu)).double_value(&[0]) < config.mixup_share;
            let loss = if mix && a.size()[0] > 1 {
                let lambda = beta.internal_sample_dirichlet().double_value(&[0]);
                let partner = Tensor::randperm(a.size()[0], (Kind::Int64, device));
                let mixed = &a * lambda + a.index_select(0, &partner) * (1.0 - lambda);
                let logits = head.raw_logits(&forward(&backbone, mixed)?);
                loss_of(&logits, &y) * lambda + loss_of(&logits, &y.index_select(0, &partner)) * (1.0 - lambda)
            } else {
                loss_of(&head.raw_logits(&forward(&backbone, a)?), &y)
            };
            unfreeze::step(&mut opt_blocks, &mut opt_head, &loss);
            total += loss.double_value(&[]);
            batches += 1;
            steps += 1;
        }
        let val_accuracy = accuracy(&evaluate(&backbone, head)?, val_y);
        let train_loss = total / f64::from(batches.max(1));
        if !best.record((epoch, train_loss, val_accuracy), &vs, head, &mut progress) {
            break;
        }
    }
    best.finish(&vs, &mut backbone, head, val_y, evaluate)?;
    Ok(backbone)
}

#[cfg(test)]
mod tests {
    use super::one_cycle;

    #[test]
    fn the_learning_rate_warms_up_then_decays_to_zero() {
        assert!((one_cycle(1.0, 0, 100) - 0.1).abs() < 1e-9);
        assert!((one_cycle(1.0, 5, 100) - 1.0).abs() < 1e-9, "peak after the 5 % warm-up");
        assert!(one_cycle(1.0, 50, 100) < 1.0 && one_cycle(1.0, 50, 100) > one_cycle(1.0, 80, 100));
        assert!(one_cycle(1.0, 100, 100).abs() < 1e-9);
    }
}
