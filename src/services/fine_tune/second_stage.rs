//! The optional second stage of a fine-tune: the backbone's last blocks train with the head.
//! On cached activations when the backbone can be split there (cheap enough for a CPU, so the
//! default wherever it is possible), else on whole photos through the whole backbone (a GPU's
//! way, for older backbone exports).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use tch::{Device, Tensor, TrainableCModule};

use super::features::Activations;
use super::FineTuneObserver;
use crate::inference::preprocess::Preprocessing;
use crate::training::augment::View;
use crate::training::{self, cached_blocks, unfreeze, TrainedHead, TrainingError};

/// Blocks trained when a job names none and the backbone can be split (rp11: see the README's
/// fine-tuning table).
pub const DEFAULT_CACHED_BLOCKS: usize = 3;
/// Blocks trained through the whole backbone when a job names none, there is a GPU and the
/// backbone cannot be split.
const DEFAULT_GPU_BLOCKS: usize = 2;
/// The most memory the cached activations may take (fp16; twice that at the moment the views
/// are joined): beyond it a job trains without them, and says so.
pub const MAX_ACTIVATION_BYTES: i64 = 4 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStage {
    None,
    /// The last blocks train on activations cached once per view.
    CachedBlocks(usize),
    /// The last blocks train on photos augmented per batch, through the whole backbone.
    WholeBackbone(usize),
}

impl SecondStage {
    /// What a job asking for `requested` blocks (None: the default) gets with this backbone,
    /// for `rows` cached photo views (train views and val photos), with the reason when it gets
    /// less than it asked for. Loads the backbone: call it off the async threads.
    pub fn choose(
        requested: Option<usize>,
        features_path: &Path,
        input_size: i64,
        rows: usize,
    ) -> (Self, Option<String>) {
        let blocks = match requested {
            Some(0) => return (SecondStage::None, None),
            Some(blocks) => blocks,
            None => DEFAULT_CACHED_BLOCKS,
        };
        let fallback = match requested {
            Some(blocks) => SecondStage::WholeBackbone(blocks),
            None if tch::Cuda::is_available() => SecondStage::WholeBackbone(DEFAULT_GPU_BLOCKS),
            None => SecondStage::None,
        };
        let Some(size) = cached_blocks::activation_size(features_path, blocks, input_size) else {
            return (fallback, None);
        };
        let bytes = size.saturating_mul(2).saturating_mul(rows as i64);
        if bytes > MAX_ACTIVATION_BYTES {
            let said = match fallback {
                SecondStage::WholeBackbone(_) => "through the whole backbone instead",
                _ => "so the head trains alone",
            };
            let why = format!(
                "the activations of {rows} photo views before the last {} would take {:.1} GiB, over the {} GiB \
                 allowed: {said} (fewer views or photos keep them)",
                blocks_said(blocks),
                bytes as f64 / f64::from(1u32 << 30),
                MAX_ACTIVATION_BYTES >> 30
            );
            return (fallback, Some(why));
        }
        (SecondStage::CachedBlocks(blocks), None)
    }

    pub fn split(self) -> Option<usize> {
        match self {
            SecondStage::CachedBlocks(blocks) => Some(blocks),
            _ => None,
        }
    }
}

/// "block" or "3 blocks".
fn blocks_said(blocks: usize) -> String {
    if blocks == 1 {
        "block".into()
    } else {
        format!("{blocks} blocks")
    }
}

/// What the second stage trains on.
pub(super) struct Inputs {
    pub features_path: PathBuf,
    pub prep: Preprocessing,
    pub train: std::sync::Arc<Vec<Vec<u8>>>,
    pub train_y: Vec<i64>,
    pub val: std::sync::Arc<Vec<Vec<u8>>>,
    pub val_y: Vec<i64>,
    /// Most epochs (0: the stage's default).
    pub epochs: usize,
    /// Also return the trained backbone's features of the val photos and their mirrors.
    pub flip: bool,
}

/// A trained backbone, with its features of the val photos and their mirrors when asked.
pub(super) type Trained = (TrainableCModule, Option<(Tensor, Tensor)>);

/// Runs on a blocking thread after the head has trained; None when there is no second stage.
pub(super) fn run(
    stage: SecondStage,
    head: &mut TrainedHead,
    inputs: Inputs,
    activations: Option<Activations>,
    obs: &dyn FineTuneObserver,
    stop: &AtomicBool,
) -> Result<Option<Trained>, TrainingError> {
    let device = Device::cuda_if_available();
    let (blocks, how) = match stage {
        SecondStage::None => return Ok(None),
        SecondStage::CachedBlocks(blocks) => (blocks, "on cached activations"),
        SecondStage::WholeBackbone(blocks) => (blocks, "through the whole backbone"),
    };
    obs.note(&format!(
        "head trained (val top-1 {:.2} %); now the backbone's last {} with it, {how}, on {}",
        head.best_val_accuracy * 100.0,
        blocks_said(blocks),
        crate::inference::device_name(device)
    ));
    // Prepared inputs (N×3×S×S, CPU) of whole photos, for the stages that need them.
    let photos =
        |photos: &[Vec<u8>]| training::extract(Device::Cpu, inputs.prep, photos, View::Plain, stop, |_| {}, Ok);
    let (train_y, val_y) = (Tensor::from_slice(&inputs.train_y), Tensor::from_slice(&inputs.val_y));
    let progress = |e: &training::Epoch| obs.epoch(e);
    let mut val_x = None;
    let backbone = match (stage, activations) {
        (SecondStage::CachedBlocks(blocks), Some(a)) => {
            let defaults = cached_blocks::CachedBlocksConfig::default();
            let max_epochs = if inputs.epochs == 0 { defaults.max_epochs } else { inputs.epochs };
            obs.stage(max_epochs);
            let config = cached_blocks::CachedBlocksConfig { blocks, max_epochs, ..defaults };
            let path = &inputs.features_path;
            cached_blocks::train(path, device, head, &a.train, &a.train_y, &a.val, &val_y, config, stop, progress)?
        }
        _ => {
            let defaults = unfreeze::UnfreezeConfig::default();
            let max_epochs = if inputs.epochs == 0 { defaults.max_epochs } else { inputs.epochs };
            obs.stage(max_epochs);
            let config = unfreeze::UnfreezeConfig { blocks, max_epochs, ..defaults };
            let (train_x, val) = (photos(&inputs.train)?, val_x.insert(photos(&inputs.val)?));
            let path = &inputs.features_path;
            unfreeze::train_backbone(path, device, head, &train_x, &train_y, val, &val_y, config, stop, progress)?
        }
    };
    if let Some(averaged) = &head.averaged {
        obs.note(&averaged.to_string());
    }
    // The trained backbone's own features of the val photos and their mirrors.
    let mirrored = if inputs.flip {
        let val_x = match val_x {
            Some(x) => x,
            None => photos(&inputs.val)?,
        };
        let features = |x: &Tensor| unfreeze::features_of(&backbone, device, x);
        Some((features(&val_x)?, features(&val_x.flip([3]))?))
    } else {
        None
    };
    Ok(Some((backbone, mirrored)))
}

#[cfg(test)]
mod tests {
    use super::SecondStage;

    #[test]
    fn blocks_train_on_cached_activations_wherever_the_backbone_splits() {
        let base = crate::testing::test_model_dir();
        let (shipped, unsplittable) = (base.join("features.pt"), base.join("cam_features.pt"));
        let choose = |requested, path: &std::path::Path| SecondStage::choose(requested, path, 224, 1000).0;
        assert_eq!(choose(None, &shipped), SecondStage::CachedBlocks(3), "the default recipe");
        assert_eq!(choose(Some(2), &shipped), SecondStage::CachedBlocks(2));
        assert_eq!(choose(Some(0), &shipped), SecondStage::None);
        assert_eq!(choose(Some(7), &shipped), SecondStage::WholeBackbone(7), "more blocks than the export splits");
        assert_eq!(choose(Some(2), &unsplittable), SecondStage::WholeBackbone(2), "an export without the split");
        let default = if tch::Cuda::is_available() { SecondStage::WholeBackbone(2) } else { SecondStage::None };
        assert_eq!(choose(None, &unsplittable), default);
        // 192×7×7 fp16 values a view: 4 GiB hold about 228,000 views, not a million.
        let (stage, why) = SecondStage::choose(Some(3), &shipped, 224, 1_000_000);
        assert_eq!(stage, SecondStage::WholeBackbone(3));
        let why = why.expect("the reason");
        assert!(why.contains("1000000 photo views") && why.contains("17.5 GiB"), "{why}");
        let (stage, why) = SecondStage::choose(None, &shipped, 224, 1_000_000);
        assert_eq!((stage, why.is_some()), (default, true));
    }
}
