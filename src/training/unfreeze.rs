//! Second stage of fine-tuning, for hosts with a GPU: the backbone's last blocks are trained
//! together with the head (early layers stay frozen, batch-norm statistics stay fixed), on
//! photos augmented per batch (random resized crop, flip, brightness), with early stopping on
//! the validation split. The trained backbone is saved as the bundle's new `features.pt`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor, TrainableCModule};

use super::best_epoch::BestEpoch;
use super::{accuracy, Epoch, TrainedHead, TrainingError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnfreezeConfig {
    /// How many of the backbone's last blocks train (the final 1×1 convolution always does).
    pub blocks: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub learning_rate: f64,
    pub batch_size: i64,
}

impl Default for UnfreezeConfig {
    fn default() -> Self {
        UnfreezeConfig { blocks: 2, max_epochs: 15, patience: 4, learning_rate: 1e-4, batch_size: 32 }
    }
}

/// Parameter names (as the VarStore spells them: dots become underscores) that train.
pub(super) fn trains(name: &str, first_block: usize) -> bool {
    if name.starts_with("net__conv_head") || name.starts_with("net__bn1") {
        return true;
    }
    name.strip_prefix("net__blocks_")
        .and_then(|rest| rest.split('_').next())
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n >= first_block)
}

pub(super) fn block_count(vs: &nn::VarStore) -> usize {
    vs.variables()
        .keys()
        .filter_map(|k| {
            k.strip_prefix("net__blocks_").and_then(|r| r.split('_').next()).and_then(|n| n.parse::<usize>().ok())
        })
        .max()
        .map_or(0, |m| m + 1)
}

/// Each class's weight in the loss: every class weighs the same, however many photos it has.
pub(super) fn class_weights(train_y: &Tensor, classes: i64) -> Tensor {
    let counts = train_y.bincount::<Tensor>(None, classes).to_kind(Kind::Float);
    counts.sum(Kind::Float) / (counts.clamp_min(1.0) * classes as f64)
}

/// One optimisation step of the blocks and the head on `loss`.
pub(super) fn step(blocks: &mut nn::Optimizer, head: &mut nn::Optimizer, loss: &Tensor) {
    blocks.zero_grad();
    head.zero_grad();
    loss.backward();
    blocks.step();
    head.step();
}

/// A copy of every variable, to come back to the best epoch.
pub(super) fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    vs.variables().into_iter().map(|(k, v)| (k, v.detach().copy())).collect()
}

pub(super) fn restore(vs: &nn::VarStore, saved: &[(String, Tensor)]) {
    tch::no_grad(|| {
        let mut vars = vs.variables();
        for (name, value) in saved {
            if let Some(v) = vars.get_mut(name) {
                v.copy_(value);
            }
        }
    });
}

/// A batch of prepared inputs (N×3×S×S) with a random resized crop (60–100 % of each side),
/// a coin-flip mirror and ±15 % brightness, all done on tensors.
fn augment(batch: &Tensor) -> Tensor {
    let size = batch.size();
    let (s, n) = (size[3], size[0]);
    let scale = 0.6 + 0.4 * f64::from(rand_unit());
    let side = ((s as f64) * scale).round().max(8.0) as i64;
    let (x0, y0) = (((s - side) as f32 * rand_unit()) as i64, ((s - side) as f32 * rand_unit()) as i64);
    let crop = batch.narrow(2, y0, side).narrow(3, x0, side);
    let mut out = crop.upsample_bilinear2d([s, s], false, None, None);
    if rand_unit() < 0.5 {
        out = out.flip([3]);
    }
    let brightness = Tensor::rand([n, 1, 1, 1], (Kind::Float, batch.device())) * 0.3 + 0.85;
    out * brightness
}

/// One uniform draw from torch's generator (seeded with the head's seed), so runs repeat.
fn rand_unit() -> f32 {
    Tensor::rand([1], (Kind::Float, Device::Cpu)).double_value(&[0]) as f32
}

/// Trains the last blocks of the backbone at `backbone_path` with `head`, on prepared train
/// inputs (N×3×S×S, CPU) and labels; returns the trained backbone (save it with `.save`).
#[allow(clippy::too_many_arguments)]
pub fn train_backbone(
    backbone_path: &Path,
    device: Device,
    head: &mut TrainedHead,
    train_x: &Tensor,
    train_y: &Tensor,
    val_x: &Tensor,
    val_y: &Tensor,
    config: UnfreezeConfig,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&Epoch),
) -> Result<TrainableCModule, TrainingError> {
    let vs = nn::VarStore::new(device);
    let mut backbone = TrainableCModule::load(backbone_path, vs.root())?;
    // Batch-norm keeps its running statistics: small batches would only add noise to them.
    backbone.set_eval();
    let first_block = block_count(&vs).saturating_sub(config.blocks);
    let mut trained = 0;
    for (name, t) in vs.variables() {
        let on = trains(&name, first_block);
        let _ = t.set_requires_grad(on);
        trained += usize::from(on);
    }
    if trained == 0 {
        return Err(TrainingError::Input("the backbone has no blocks to unfreeze".into()));
    }
    head.move_to(device);
    head.vs.unfreeze();
    let mut opt_backbone = nn::AdamW::default().wd(1e-4).build(&vs, config.learning_rate)?;
    let mut opt_head = nn::AdamW::default().wd(1e-3).build(&head.vs, config.learning_rate * 5.0)?;
    let classes = head.classes();
    if classes < 2 {
        return Err(TrainingError::Input(format!("the head has {classes} classes")));
    }
    let weights = class_weights(train_y, classes).to_device(device);
    let n = train_x.size()[0];
    let evaluate = |backbone: &TrainableCModule, head: &TrainedHead| -> Result<Tensor, TrainingError> {
        tch::no_grad(|| -> Result<Tensor, TrainingError> {
            let mut rows = Vec::new();
            for start in (0..val_x.size()[0]).step_by(64) {
                let x = val_x.narrow(0, start, 64.min(val_x.size()[0] - start)).to_device(device);
                rows.push(head.raw_logits(&backbone.forward_ts(&[x])?).to_device(Device::Cpu));
            }
            Ok(Tensor::cat(&rows, 0))
        })
    };
    // This stage's learning rate is constant, as SWA's is: its second half's epochs are averaged.
    let untrained = accuracy(&evaluate(&backbone, head)?, val_y);
    let mut best = BestEpoch::new(untrained, &vs, head, config.patience, config.max_epochs);
    for epoch in 1..=config.max_epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainingError::Cancelled);
        }
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        let (mut total, mut batches) = (0.0, 0);
        let mut start = 0;
        while start < n {
            if cancel.load(Ordering::Relaxed) {
                return Err(TrainingError::Cancelled);
            }
            let idx = order.narrow(0, start, config.batch_size.min(n - start));
            let x = augment(&train_x.index_select(0, &idx).to_device(device));
            let y = train_y.index_select(0, &idx).to_device(device);
            let logits = head.raw_logits(&backbone.forward_ts(&[x])?);
            let loss =
                logits.cross_entropy_loss::<Tensor>(&y, Some(weights.shallow_clone()), tch::Reduction::Mean, -100, 0.1);
            step(&mut opt_backbone, &mut opt_head, &loss);
            total += loss.double_value(&[]);
            batches += 1;
            start += config.batch_size;
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

/// Pooled features of prepared inputs (N×3×S×S, CPU) through a backbone on `device`.
pub fn features_of(backbone: &TrainableCModule, device: Device, inputs: &Tensor) -> Result<Tensor, TrainingError> {
    tch::no_grad(|| {
        let mut rows = Vec::new();
        for start in (0..inputs.size()[0]).step_by(64) {
            let x = inputs.narrow(0, start, 64.min(inputs.size()[0] - start)).to_device(device);
            rows.push(backbone.forward_ts(&[x])?.to_device(Device::Cpu));
        }
        Ok(Tensor::cat(&rows, 0))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_last_blocks_and_the_head_convolution_train() {
        assert!(super::trains("net__blocks_15__bn0_bias", 14));
        assert!(super::trains("net__blocks_14__depthwise_conv_weight", 14));
        assert!(!super::trains("net__blocks_13__depthwise_conv_weight", 14));
        assert!(!super::trains("net__blocks_1__bn0_bias", 14), "block 1 is not block 14");
        assert!(super::trains("net__conv_head_weight", 16) && super::trains("net__bn1_bias", 16));
        assert!(!super::trains("net__conv_stem_weight", 0) && !super::trains("net__fc_weight", 0));
    }
}
