//! The costly part of a fine-tune: the base backbone's pass over every train view and val photo,
//! cached per view in the job's folder so that a resumed job recomputes only what it had not
//! finished. When the last blocks will train on cached activations, the pass stops before them
//! and keeps those activations; the pooled features for the head come from the frozen last
//! blocks, which cost a fraction of the whole backbone.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tch::{CModule, Device, Kind, Tensor};

use super::FineTuneObserver;
use crate::inference::preprocess::Preprocessing;
use crate::training::augment::{self, View};
use crate::training::{self, cached_blocks, TrainingError};

pub(super) struct Features {
    pub train_x: Tensor,
    pub train_y: Tensor,
    pub val_x: Tensor,
    /// The val photos' mirror images, when the bundle will average them in.
    pub val_mirrored_x: Option<Tensor>,
    pub val_y: Tensor,
    /// Activations entering the last blocks (fp16), when those train on them.
    pub activations: Option<Activations>,
}

pub(super) struct Activations {
    /// Every train view's, view after view.
    pub train: Tensor,
    pub train_y: Tensor,
    pub val: Tensor,
}

/// What to extract.
pub(super) struct Request {
    pub features_path: PathBuf,
    pub prep: Preprocessing,
    pub train: Arc<Vec<Vec<u8>>>,
    pub train_y: Vec<i64>,
    pub val: Arc<Vec<Vec<u8>>>,
    pub val_y: Vec<i64>,
    pub views: usize,
    /// Also the val photos' mirrors (test-time flip of a head on the base backbone).
    pub val_mirrored: bool,
    /// Stop before the last this many blocks and keep their input activations.
    pub split: Option<usize>,
    pub cache: Option<PathBuf>,
}

/// A tensor cached per view and split, under a name that also carries the backbone's digest:
/// a resumed job recomputes only the views it had not finished, and never reuses those of
/// another base model (a job without one takes the model active when it runs).
fn cached(
    cache: Option<&Path>,
    name: &str,
    rows: usize,
    compute: impl FnOnce() -> Result<Tensor, TrainingError>,
) -> Result<(Tensor, bool), TrainingError> {
    let file = cache.map(|c| c.join(format!("{name}.safetensors")));
    if let Some(f) = &file {
        if let Ok(found) = Tensor::read_safetensors(f) {
            if let Some((_, t)) = found.into_iter().find(|(k, t)| k == "x" && t.size().first() == Some(&(rows as i64)))
            {
                return Ok((t, true));
            }
        }
    }
    let t = compute()?;
    if let Some(f) = &file {
        let io = |e: std::io::Error| TrainingError::Input(format!("feature cache: {e}"));
        std::fs::create_dir_all(f.parent().unwrap_or(Path::new("."))).map_err(io)?;
        let tmp = f.with_extension("tmp");
        Tensor::write_safetensors(&[("x", &t)], &tmp)?;
        std::fs::rename(&tmp, f).map_err(io)?;
    }
    Ok((t, false))
}

/// Runs on a blocking thread: features (and activations) of every train view and the val split.
pub(super) fn extract(r: &Request, obs: &dyn FineTuneObserver, stop: &AtomicBool) -> Result<Features, TrainingError> {
    crate::inference::torch_threads::compute_on(crate::inference::torch_threads::all_cores());
    // The backbone pass is the costly part: on the GPU when there is one.
    let device = Device::cuda_if_available();
    obs.note(&format!("extracting backbone features on {}", crate::inference::device_name(device)));
    let module = CModule::load_on_device(&r.features_path, device)?;
    let cache = r.cache.as_deref();
    let backbone = match cache {
        Some(_) => {
            let bytes = std::fs::read(&r.features_path).map_err(|e| TrainingError::Input(format!("backbone: {e}")))?;
            crate::storage::sha256_hex(&bytes)[..16].to_string()
        }
        None => String::new(),
    };
    let (train, val) = (r.train.as_slice(), r.val.as_slice());
    let total = (train.len() * r.views + val.len() * (1 + usize::from(r.val_mirrored))).max(1);
    // One view of one split: pooled features, plus the activations when splitting.
    let pass = |name: &str, said: &str, photos: &[Vec<u8>], view: View, offset: usize| {
        let progress = |d| obs.features(offset + d, total);
        let (x, from_cache) = match r.split {
            Some(blocks) => {
                // fp16 for the many train views; the val photos, which pick the best epoch and
                // fit the temperature, as the served model sees them.
                let kind = if name.starts_with("val") { Kind::Float } else { Kind::Half };
                let file = format!("{backbone}-last-{blocks}-blocks-{name}");
                let (a, from_cache) = cached(cache, &file, photos.len(), || {
                    let trunk = |batch| cached_blocks::trunk(&module, blocks, batch, kind);
                    training::extract(device, r.prep, photos, view, stop, progress, trunk)
                })?;
                let x = cached_blocks::pooled(&module, device, blocks, &a, stop)?;
                ((x, Some(a)), from_cache)
            }
            None => {
                let (x, from_cache) = cached(cache, &format!("{backbone}-{name}"), photos.len(), || {
                    training::extract_features(&module, device, r.prep, photos, view, stop, progress)
                })?;
                ((x, None), from_cache)
            }
        };
        if from_cache {
            obs.note(&format!("{said} from the cache"));
            obs.features(offset + photos.len(), total);
        }
        Ok::<_, TrainingError>(x)
    };
    let (mut parts, mut train_a, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    let y = Tensor::from_slice(&r.train_y);
    for (n, view) in augment::views(r.views).into_iter().enumerate() {
        let said = format!("view {} of {}", n + 1, r.views);
        let (x, a) = pass(&format!("train-view-{n}"), &said, train, view, n * train.len())?;
        parts.push(x);
        train_a.extend(a);
        ys.push(y.shallow_clone());
    }
    let offset = r.views * train.len();
    let (val_x, val_a) = pass("val", "the val photos", val, View::Plain, offset)?;
    let val_mirrored_x = match r.val_mirrored {
        true => Some(pass("val-mirrored", "their mirrors", val, View::InputMirrored, offset + val.len())?.0),
        false => None,
    };
    let train_y = Tensor::cat(&ys, 0);
    let activations =
        val_a.map(|val| Activations { train: Tensor::cat(&train_a, 0), train_y: train_y.shallow_clone(), val });
    Ok(Features {
        train_x: Tensor::cat(&parts, 0),
        train_y,
        val_x,
        val_mirrored_x,
        val_y: Tensor::from_slice(&r.val_y),
        activations,
    })
}
