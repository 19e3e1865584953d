//! A model bundle on disk, loaded and proven with a test forward pass.

use std::path::{Path, PathBuf};

use tch::{CModule, Device, Kind, Tensor};

use super::image_text::{unit_rows, TextClasses};
use super::preprocess::Preprocessing;
use super::{BundleKind, InferenceError, Manifest, TestTime};

/// A loaded bundle: the TorchScript classifier on its device plus the manifest describing it.
pub struct ModelBundle {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub device: Device,
    module: CModule,
    /// What turns the module's output into logits.
    head: Head,
    /// The number type the modules compute in: Float, or Half after [`Self::to_half`].
    kind: Kind,
}

enum Head {
    /// The module's output is the logits.
    None,
    /// A trained head on a backbone's features (fine-tuned bundles).
    Module(CModule),
    /// The module embeds the photo; the classes are embedded prompts (image–text bundles).
    Text(Box<TextClasses>),
}

/// One class of an answer with its probability.
#[derive(Debug, Clone, PartialEq)]
pub struct TopClass {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// One input's class probabilities, and its unit image embedding when the bundle has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub probabilities: Vec<f32>,
    pub embedding: Option<Vec<f32>>,
}

/// Rows of probabilities (or logits), and of image embeddings for an image–text bundle.
type Rows = (Vec<Vec<f32>>, Option<Vec<Vec<f32>>>);

/// Every file the manifest names must exist, and match its recorded digest when it has one.
fn verify_files(dir: &Path, manifest: &super::Manifest) -> Result<(), String> {
    // Checked on reading the manifest already; again here, right before the names are joined
    // to the directory and read, so that no other way of getting a manifest can skip it.
    for file in manifest.file_names() {
        super::manifest::check_file_name(file)?;
    }
    for file in manifest.files.named() {
        if !dir.join(file).is_file() {
            return Err(format!("{file} is missing"));
        }
    }
    for (file, expected) in &manifest.sha256 {
        let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?;
        if crate::storage::sha256_hex(&bytes) != expected.to_ascii_lowercase() {
            return Err(format!("{file} does not match its sha256 in manifest.json (damaged or replaced)"));
        }
    }
    Ok(())
}

impl ModelBundle {
    /// Loads and validates a bundle. Any failure leaves nothing half-loaded behind.
    /// An int8 bundle loads on the CPU whatever `device` says (see [`super::Precision`]).
    pub fn load(dir: &Path, device: Device) -> Result<Self, InferenceError> {
        let manifest = Manifest::read(dir)?;
        let device = manifest.precision.device(device);
        let invalid = |reason: String| InferenceError::InvalidBundle { path: dir.display().to_string(), reason };
        let model_path = dir.join(manifest.files.model_for_this_cpu());
        if manifest.precision == super::Precision::Int8
            && manifest.files.model_7bit.is_none()
            && !super::manifest::cpu_adds_int8_exactly()
        {
            // Exported before the 7-bit file existed: its answers may be wrong on this CPU.
            tracing::warn!(
                bundle = %dir.display(),
                "this int8 bundle has no 7-bit model and this CPU has no VNNI: export it again (Make an int8 model)"
            );
        }
        verify_files(dir, &manifest).map_err(invalid)?;
        let mut module = CModule::load_on_device(&model_path, device)
            .map_err(|e| invalid(format!("TorchScript model does not load: {e}")))?;
        module.set_eval();
        let head = match (&manifest.files.head, manifest.kind) {
            (_, BundleKind::ImageText) => {
                Head::Text(Box::new(TextClasses::load(dir, &manifest, device).map_err(invalid)?))
            }
            (Some(file), BundleKind::Classifier) => {
                let mut h = CModule::load_on_device(dir.join(file), device)
                    .map_err(|e| invalid(format!("{file} does not load: {e}")))?;
                h.set_eval();
                Head::Module(h)
            }
            (None, BundleKind::Classifier) => Head::None,
        };
        let bundle = ModelBundle { manifest, dir: dir.to_path_buf(), device, module, head, kind: Kind::Float };
        let size = bundle.manifest.input_size as i64;
        let (out, _) = bundle
            .forward(Tensor::zeros([1, 3, size, size], (Kind::Float, device)))
            .map_err(|e| invalid(format!("test forward pass failed: {e}")))?;
        let width = out.size();
        if width != [1, bundle.manifest.labels.len() as i64] {
            return Err(invalid(format!(
                "model output shape {width:?} does not match {} labels",
                bundle.manifest.labels.len()
            )));
        }
        Ok(bundle)
    }

    /// Converts an fp32 bundle on a GPU to half precision (twice the arithmetic rate on
    /// tensor cores, half the memory traffic); the answers stay probabilities in f32.
    pub fn to_half(&mut self) -> Result<(), InferenceError> {
        if !self.device.is_cuda() {
            return Err(InferenceError::Device("half precision needs a GPU (INSECTID_DEVICE=cuda)".into()));
        }
        if self.manifest.precision != super::Precision::Fp32 {
            let precision = self.manifest.precision.as_str();
            return Err(InferenceError::Device(format!("a {precision} bundle cannot run in half precision")));
        }
        self.module.to(self.device, Kind::Half, false);
        if let Head::Module(head) = &mut self.head {
            head.to(self.device, Kind::Half, false);
        }
        self.kind = Kind::Half;
        Ok(())
    }

    /// The classifier's per-class vectors, for "similar species". A frozen (int8) classifier
    /// keeps its weights as constants; the heat-map head holds the same fp32 classifier.
    pub fn class_vectors(&self) -> Option<super::ClassVectors> {
        if let Head::Text(text) = &self.head {
            return text.rows().map(super::ClassVectors::from_rows);
        }
        let classes = self.manifest.labels.len();
        super::ClassVectors::from_module(&self.module, classes).or_else(|| {
            let file = self.manifest.files.cam_head.as_ref()?;
            let cam_head = CModule::load_on_device(self.dir.join(file), Device::Cpu).ok()?;
            super::ClassVectors::from_module(&cam_head, classes)
        })
    }

    pub fn preprocessing(&self) -> Preprocessing {
        Preprocessing::from(&self.manifest)
    }

    fn input_len(&self) -> usize {
        let s = self.manifest.input_size as usize;
        3 * s * s
    }

    /// Logits, and for an image–text bundle the image embeddings they came from.
    fn forward(&self, batch: Tensor) -> Result<(Tensor, Option<Tensor>), InferenceError> {
        Ok(tch::no_grad(|| -> Result<(Tensor, Option<Tensor>), tch::TchError> {
            let out = self.module.forward_ts(&[batch])?;
            match &self.head {
                Head::Module(head) => Ok((head.forward_ts(&[out])?, None)),
                Head::Text(text) => Ok((text.logits(&out)?, Some(out))),
                Head::None => Ok((out, None)),
            }
        })?)
    }

    /// Whether photos and texts share an embedding space (an image–text bundle).
    pub fn embeds_text(&self) -> bool {
        matches!(self.head, Head::Text(_))
    }

    /// Unit-length embeddings of texts, one row each; None for a classifier.
    pub fn text_embeddings(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, InferenceError>> {
        self.text_encoder().map(|encoder| embedding_rows(&encoder, texts))
    }

    /// The text encoder of an image–text bundle.
    pub fn text_encoder(&self) -> Option<std::sync::Arc<super::image_text::TextEncoder>> {
        let Head::Text(text) = &self.head else { return None };
        Some(text.encoder.clone())
    }

    /// Unit-length image embeddings of prepared inputs (the module's output, normalised); None
    /// for a classifier, whose module's output is logits.
    pub fn image_embeddings(&self, inputs: &[&[f32]]) -> Option<Result<Vec<Vec<f32>>, InferenceError>> {
        if !self.embeds_text() {
            return None;
        }
        Some(self.batch_of(inputs).and_then(|batch| {
            let out = tch::no_grad(|| self.module.forward_ts(&[batch]))?;
            rows_of(&unit_rows(&out.to_kind(Kind::Float)))
        }))
    }

    /// Raw logits for a batch of prepared inputs, one row per input.
    pub fn logits(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>, InferenceError> {
        self.run(inputs, false)
    }

    /// Class probabilities for a batch of prepared inputs, one row per input.
    pub fn probabilities(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>, InferenceError> {
        self.run(inputs, true)
    }

    /// Class probabilities and, for an image–text bundle, each input's unit image embedding
    /// (what text search compares queries with), from the one forward pass.
    pub fn scores(&self, inputs: &[&[f32]]) -> Result<Vec<Scores>, InferenceError> {
        let (probabilities, embeddings) = self.run_with_embeddings(inputs, true)?;
        let mut embeddings = embeddings.map(Vec::into_iter);
        Ok(probabilities
            .into_iter()
            .map(|probabilities| Scores { probabilities, embedding: embeddings.as_mut().and_then(Iterator::next) })
            .collect())
    }

    /// Prepared inputs as one batch on the model's device.
    fn batch_of(&self, inputs: &[&[f32]]) -> Result<Tensor, InferenceError> {
        let len = self.input_len();
        if let Some(bad) = inputs.iter().find(|i| i.len() != len) {
            return Err(InferenceError::BadImage(format!("input has {} values, the model takes {len}", bad.len())));
        }
        let flat: Vec<f32> = inputs.iter().flat_map(|i| i.iter().copied()).collect();
        let size = self.manifest.input_size as i64;
        let batch = Tensor::from_slice(&flat).view([inputs.len() as i64, 3, size, size]);
        Ok(batch.to_device(self.device).to_kind(self.kind))
    }

    fn run(&self, inputs: &[&[f32]], softmax: bool) -> Result<Vec<Vec<f32>>, InferenceError> {
        Ok(self.run_with_embeddings(inputs, softmax)?.0)
    }

    fn run_with_embeddings(&self, inputs: &[&[f32]], softmax: bool) -> Result<Rows, InferenceError> {
        if inputs.is_empty() {
            return Ok((Vec::new(), self.embeds_text().then(Vec::new)));
        }
        let batch = self.batch_of(inputs)?;
        let (out, embeddings) = match self.manifest.test_time {
            TestTime::None => self.forward(batch)?,
            // One pass over photos and mirrors together, then each photo's two rows averaged
            // (so a batch of N photos is 2N images: the GPU's batch limit doubles in memory).
            TestTime::Flip => {
                let n = inputs.len() as i64;
                let mean = |both: Tensor| (both.narrow(0, 0, n) + both.narrow(0, n, n)) / 2.0;
                let (both, embeddings) = self.forward(Tensor::cat(&[&batch, &batch.flip([3])], 0))?;
                // Each view's unit embedding, averaged: what the averaged cosines came from.
                (mean(both), embeddings.map(|e| mean(unit_rows(&e.to_kind(Kind::Float)))))
            }
        };
        let mut out = out.to_kind(Kind::Float);
        if softmax {
            out = out.softmax(-1, Kind::Float);
        }
        let embeddings = embeddings.map(|e| rows_of(&unit_rows(&e.to_kind(Kind::Float)))).transpose()?;
        Ok((rows_of(&out)?, embeddings))
    }

    /// The `k` most probable classes of one probability row, best first.
    pub fn top_k(&self, probabilities: &[f32], k: usize) -> Vec<TopClass> {
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_unstable_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
        order
            .into_iter()
            .take(k)
            .map(|i| TopClass {
                index: i,
                label: self.manifest.labels.get(i).map(|l| l.name.clone()).unwrap_or_default(),
                probability: probabilities[i],
            })
            .collect()
    }
}

/// Unit-length embeddings of texts, one row each.
pub fn embedding_rows(
    encoder: &super::image_text::TextEncoder,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>, InferenceError> {
    encoder.embed(texts).and_then(|t| rows_of(&t))
}

fn rows_of(t: &Tensor) -> Result<Vec<Vec<f32>>, InferenceError> {
    let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    Ok(Vec::<Vec<f32>>::try_from(&t)?)
}
