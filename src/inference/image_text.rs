//! Image–text bundles (the CLIP family: BioCLIP, BioCLIP 2). Two encoders map photos and
//! descriptions into one space; a class is the normalised mean of its prompts' embeddings, so
//! identifying a photo is one image forward pass and a product with the class matrix, and a
//! class can be added by describing it, without training.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tch::{CModule, Device, Kind, Tensor};
use tokenizers::{Tokenizer, TruncationParams};

use super::{BundleKind, InferenceError, Label, Manifest};

/// A tokenizer.json larger than this is refused before it is parsed (CLIP's is 3.6 MB).
const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
/// Prompts are short descriptions; a longer one is cut by the tokenizer anyway.
pub const MAX_PROMPT_CHARS: usize = 500;
const MAX_PROMPTS: usize = 50_000;
/// Prompts embedded per text-encoder pass.
const TEXT_BATCH: usize = 64;

/// The manifest's image–text rules; the encoders themselves are checked when they load.
pub(super) fn validate(m: &Manifest) -> Result<(), String> {
    let prompts: usize = m.labels.iter().map(|l| l.all_prompts().count()).sum();
    if m.kind == BundleKind::Classifier {
        let prototypes = m.labels.iter().any(|l| l.prototype.is_some());
        let text_files = m.files.text_encoder.is_some() || m.files.tokenizer.is_some();
        if prompts > 0 || prototypes || text_files || m.image_text.is_some() {
            return Err("prompts, prototypes, image_text and text files belong to kind \"image_text\" bundles".into());
        }
        return Ok(());
    }
    let spec = m.image_text.as_ref().ok_or("an image_text bundle needs its \"image_text\" settings")?;
    if m.files.text_encoder.is_none() || m.files.tokenizer.is_none() {
        return Err("an image_text bundle needs files.text_encoder and files.tokenizer".into());
    }
    if m.files.head.is_some() || m.precision != super::Precision::Fp32 {
        return Err("an image_text bundle is fp32 and has no separate head".into());
    }
    if !(spec.logit_scale.is_finite() && spec.logit_scale > 0.0 && spec.logit_scale <= 1000.0) {
        return Err(format!("logit_scale {} is outside (0, 1000]", spec.logit_scale));
    }
    if !(3..=1024).contains(&spec.context_length) || !(1..=16384).contains(&spec.embed_dim) {
        return Err("context_length must be 3..=1024 and embed_dim 1..=16384".into());
    }
    if prompts > MAX_PROMPTS {
        return Err(format!("{prompts} prompts: at most {MAX_PROMPTS}"));
    }
    if !(0.0..=1.0).contains(&spec.photo_weight) {
        return Err(format!("photo_weight {} is outside 0..1", spec.photo_weight));
    }
    for label in &m.labels {
        if label.all_prompts().next().is_none() && label.prototype.is_none() {
            return Err(format!("label {} ({}) has no prompt", label.index, label.name));
        }
        if let Some(p) = &label.prototype {
            if p.len() != spec.embed_dim as usize || p.iter().any(|v| !v.is_finite()) {
                return Err(format!("label {}: its prototype must be {} finite numbers", label.index, spec.embed_dim));
            }
        }
        if let Some(p) = label.all_prompts().find(|p| check_prompt(p).is_err()) {
            return Err(format!("label {}: {}", label.index, check_prompt(p).unwrap_err()));
        }
    }
    Ok(())
}

/// A description the text encoder may embed: one line of at most [`MAX_PROMPT_CHARS`].
pub fn check_prompt(prompt: &str) -> Result<(), String> {
    if prompt.trim().is_empty() {
        return Err("a prompt is empty".into());
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS || prompt.chars().any(char::is_control) {
        return Err(format!("a prompt must be one line of at most {MAX_PROMPT_CHARS} characters"));
    }
    Ok(())
}

/// The text side of a bundle: tokenizer and TorchScript text encoder.
pub struct TextEncoder {
    module: CModule,
    tokenizer: Tokenizer,
    context_length: usize,
    pad_id: i64,
    /// The width every embedding must have (an uploaded encoder's output is checked, never
    /// trusted: a wrong shape must be an error, not a panic in a tensor operation).
    embed_dim: i64,
    device: Device,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder")
            .field("context_length", &self.context_length)
            .field("embed_dim", &self.embed_dim)
            .finish()
    }
}

impl TextEncoder {
    pub fn load(dir: &Path, manifest: &Manifest, device: Device) -> Result<Self, String> {
        let (Some(spec), Some(encoder), Some(tokenizer)) =
            (&manifest.image_text, &manifest.files.text_encoder, &manifest.files.tokenizer)
        else {
            return Err("not an image_text bundle".into());
        };
        let path = dir.join(tokenizer);
        let size = std::fs::metadata(&path).map_err(|e| format!("{tokenizer}: {e}"))?.len();
        if size > MAX_TOKENIZER_BYTES {
            return Err(format!("{tokenizer} is {size} bytes; at most {MAX_TOKENIZER_BYTES}"));
        }
        let mut tokenizer =
            Tokenizer::from_file(&path).map_err(|e| format!("{tokenizer} is not a tokenizer.json: {e}"))?;
        let context_length = spec.context_length as usize;
        let truncation = TruncationParams { max_length: context_length, ..Default::default() };
        tokenizer.with_truncation(Some(truncation)).map_err(|e| format!("tokenizer truncation: {e}"))?;
        tokenizer.with_padding(None);
        let mut module =
            CModule::load_on_device(dir.join(encoder), device).map_err(|e| format!("{encoder} does not load: {e}"))?;
        module.set_eval();
        let (pad_id, embed_dim) = (i64::from(spec.pad_id), i64::from(spec.embed_dim));
        Ok(TextEncoder { module, tokenizer, context_length, pad_id, embed_dim, device })
    }

    /// A prompt's token ids, start and end tokens included, padded to the context length.
    pub fn token_ids(&self, text: &str) -> Result<Vec<i64>, InferenceError> {
        let encoding =
            self.tokenizer.encode(text, true).map_err(|e| InferenceError::Torch(format!("tokenizer: {e}")))?;
        let mut ids: Vec<i64> = encoding.get_ids().iter().map(|&id| i64::from(id)).collect();
        if ids.len() > self.context_length {
            return Err(InferenceError::Torch(format!(
                "the tokenizer gave {} ids for {}",
                ids.len(),
                self.context_length
            )));
        }
        ids.resize(self.context_length, self.pad_id);
        Ok(ids)
    }

    /// Unit-length embeddings of `texts`, one row each, on the encoder's device.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor, InferenceError> {
        let mut rows = Vec::new();
        for chunk in texts.chunks(TEXT_BATCH) {
            let mut ids = Vec::with_capacity(chunk.len() * self.context_length);
            for text in chunk {
                ids.extend(self.token_ids(text)?);
            }
            let tokens = Tensor::from_slice(&ids).view([chunk.len() as i64, self.context_length as i64]);
            let out = tch::no_grad(|| self.module.forward_ts(&[tokens.to_device(self.device)]))?;
            if out.size() != [chunk.len() as i64, self.embed_dim] {
                let (shape, n, width) = (out.size(), chunk.len(), self.embed_dim);
                return Err(InferenceError::Torch(format!(
                    "the text encoder gave {shape:?} for {n} prompts of width {width}"
                )));
            }
            rows.push(unit_rows(&out.to_kind(Kind::Float)));
        }
        if rows.is_empty() {
            return Ok(Tensor::zeros([0, 0], (Kind::Float, self.device)));
        }
        Ok(Tensor::cat(&rows, 0))
    }
}

/// Each row divided by its length (rows of zeros stay zero).
pub fn unit_rows(x: &Tensor) -> Tensor {
    let norm = x.norm_scalaropt_dim(2.0, [-1i64].as_slice(), true).clamp_min(1e-12);
    x / norm
}

/// One row per label: the unit mean of its prompts' unit embeddings, blended with its photo
/// prototype (weight `photo_weight`) when it has one; a class known only from photos is its
/// prototype.
pub fn class_matrix(encoder: &TextEncoder, labels: &[Label], photo_weight: f64) -> Result<Tensor, InferenceError> {
    let prompts: Vec<&str> = labels.iter().flat_map(|l| l.all_prompts().map(String::as_str)).collect();
    let embedded = encoder.embed(&prompts)?;
    let mut start = 0;
    let mut rows = Vec::with_capacity(labels.len());
    for label in labels {
        let n = label.all_prompts().count() as i64;
        let text =
            (n > 0).then(|| unit_rows(&embedded.narrow(0, start, n).mean_dim([0i64].as_slice(), true, Kind::Float)));
        start += n;
        let photos =
            label.prototype.as_ref().map(|p| unit_rows(&Tensor::from_slice(p).view([1, -1]).to_device(encoder.device)));
        rows.push(match (text, photos) {
            (Some(t), Some(p)) => t * (1.0 - photo_weight) + p * photo_weight,
            (Some(t), None) => t,
            (None, Some(p)) => p,
            (None, None) => {
                return Err(InferenceError::Torch(format!("class {} has neither prompts nor photos", label.name)))
            }
        });
    }
    Ok(unit_rows(&Tensor::cat(&rows, 0)))
}

/// Where the class matrix of these prompts is kept in the bundle: the name carries a digest of
/// the text encoder, the tokenizer and every prompt, so edited prompts never meet old vectors.
pub fn class_matrix_file(dir: &Path, manifest: &Manifest) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for file in [&manifest.files.text_encoder, &manifest.files.tokenizer].into_iter().flatten() {
        match manifest.sha256.get(file) {
            Some(digest) => h.update(digest.as_bytes()),
            None => h.update(std::fs::read(dir.join(file)).unwrap_or_default()),
        }
        h.update([0]);
    }
    h.update(serde_json::to_vec(&manifest.image_text).unwrap_or_default());
    for label in &manifest.labels {
        h.update(serde_json::to_vec(&label.all_prompts().collect::<Vec<_>>()).unwrap_or_default());
        h.update(serde_json::to_vec(&label.prototype).unwrap_or_default());
    }
    let digest = format!("{:x}", h.finalize());
    dir.join(format!("class-text-{}.npy", &digest[..16]))
}

/// The class matrix, read from the bundle when these prompts were embedded before, else
/// computed and stored beside the bundle's files (a bundle on a read-only disk keeps it in
/// memory only).
pub fn load_class_matrix(dir: &Path, manifest: &Manifest, encoder: &TextEncoder) -> Result<Tensor, String> {
    let file = class_matrix_file(dir, manifest);
    let shape = [manifest.labels.len() as i64, manifest.image_text.as_ref().map_or(0, |s| s.embed_dim as i64)];
    if let Ok(stored) = Tensor::read_npy(&file) {
        if stored.size() == shape && stored.kind() == Kind::Float && stored.isfinite().all().int64_value(&[]) == 1 {
            return Ok(stored.to_device(encoder.device));
        }
        tracing::warn!(file = %file.display(), "stored class vectors do not fit the bundle; embedding the prompts again");
    }
    let weight = f64::from(manifest.image_text.as_ref().map_or(0.0, |s| s.photo_weight));
    let matrix =
        class_matrix(encoder, &manifest.labels, weight).map_err(|e| format!("embedding the prompts failed: {e}"))?;
    if matrix.size() != shape {
        return Err(format!("the text encoder's embeddings are {:?}, the manifest says {shape:?}", matrix.size()));
    }
    // A name of this writer's own: several processes may load one bundle at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = file.with_extension(format!("npy.{}-{n}.partial", std::process::id()));
    let stored = matrix
        .to_device(Device::Cpu)
        .write_npy(&tmp)
        .and_then(|()| std::fs::rename(&tmp, &file).map_err(|e| tch::TchError::FileFormat(e.to_string())));
    if let Err(e) = stored {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(file = %file.display(), error = %e, "class vectors not stored; they are recomputed on each load");
    }
    Ok(matrix)
}

/// Removes stored class vectors, so that the next load embeds the prompts itself (an uploaded
/// bundle's own file is not trusted).
pub fn discard_class_vectors(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("class-text-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Class vectors of an image–text bundle, and how they turn image embeddings into logits.
pub struct TextClasses {
    /// Tensors are not `Sync`: each forward pass takes a shallow handle under the lock.
    matrix: Mutex<Tensor>,
    scale: f64,
    /// Shared with the active model's status, which embeds search queries with it.
    pub encoder: Arc<TextEncoder>,
}

impl TextClasses {
    pub fn load(dir: &Path, manifest: &Manifest, device: Device) -> Result<Self, String> {
        let encoder = TextEncoder::load(dir, manifest, device)?;
        let matrix = load_class_matrix(dir, manifest, &encoder)?;
        let scale = f64::from(manifest.image_text.as_ref().map_or(1.0, |s| s.logit_scale));
        Ok(TextClasses { matrix: Mutex::new(matrix), scale, encoder: Arc::new(encoder) })
    }

    fn matrix(&self) -> Tensor {
        self.matrix.lock().unwrap_or_else(|e| e.into_inner()).shallow_clone()
    }

    /// Logits for image embeddings: scaled cosine with every class (computed in f32, where
    /// the norm's floor is not rounded to zero as in half precision).
    pub fn logits(&self, image_embeddings: &Tensor) -> Result<Tensor, tch::TchError> {
        let matrix = self.matrix();
        let (shape, width) = (image_embeddings.size(), matrix.size()[1]);
        if shape.len() != 2 || shape[1] != width {
            return Err(tch::TchError::Shape(format!(
                "the image encoder gave {shape:?}; the classes have width {width}"
            )));
        }
        let unit = unit_rows(&image_embeddings.to_kind(Kind::Float));
        Ok(unit.f_matmul(&matrix.tr())? * self.scale)
    }

    /// The class vectors as rows, for "similar species".
    pub fn rows(&self) -> Option<Vec<Vec<f32>>> {
        Vec::<Vec<f32>>::try_from(self.matrix().to_device(Device::Cpu).contiguous()).ok()
    }
}

/// The space a model's photo embeddings live in: a digest of its image encoder file and of how
/// photos are prepared for it. Versions that differ only in their classes' descriptions (the
/// describe job's) share it, so photos stay searchable across description edits.
pub fn embedding_space(manifest: &Manifest) -> String {
    let encoder = manifest.sha256.get(&manifest.files.model).cloned();
    let encoder = encoder.unwrap_or_else(|| format!("{}@{}", manifest.name, manifest.version));
    let p = (manifest.input_size, manifest.resize_shorter, &manifest.mean, &manifest.std);
    crate::storage::sha256_hex(format!("{encoder}|{p:?}").as_bytes())[..32].to_string()
}
