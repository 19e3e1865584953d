//! Few-shot classes for image–text models: a class's prototype is the unit mean image
//! embedding of its labelled photos in a dataset version's train split. The describe job
//! writes prototypes into the version it derives; loading blends each with the class's prompts
//! (`inference::image_text::class_matrix`), and a class known only from photos is added.

use std::path::Path;

use crate::catalogue;
use crate::inference::{preprocess, Label, Manifest, ModelBundle};
use crate::services::evaluation::{self, Sample};
use crate::storage::PhotoStore;
use crate::ServiceError;

/// Photos embedded per forward pass.
const BATCH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prototyped {
    /// Classes that received a prototype, and how many of them the model did not have.
    pub classes: usize,
    pub new_classes: usize,
    pub photos: usize,
}

/// Gives `manifest`'s classes the prototypes of `dataset`'s train photos, embedded by the
/// bundle at `base_dir`. A dataset class matches a label of the same name, or one its catalogue
/// species answers to; any other becomes a new class (with the catalogue's taxon when known).
pub async fn add_prototypes(
    db: &sea_orm::DatabaseConnection,
    photos: &PhotoStore,
    base_dir: &Path,
    manifest: &mut Manifest,
    dataset: &str,
    photo_weight: f32,
) -> Result<Prototyped, ServiceError> {
    let data = evaluation::from_dataset_version(db, photos, dataset, "train").await?;
    let dir = base_dir.to_path_buf();
    let bundle = tokio::task::spawn_blocking(move || ModelBundle::load(&dir, tch::Device::Cpu))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))??;
    let bundle = std::sync::Arc::new(bundle);
    // Read and embedded a batch at a time: a large dataset is never held in memory whole.
    let mut sums: Vec<Option<Vec<f32>>> = vec![None; data.classes.len()];
    let mut skipped = 0;
    for batch in data.samples.chunks(BATCH) {
        let mut labelled = Vec::with_capacity(batch.len());
        for (sample, class) in batch {
            labelled.push((read(photos, sample).await?, *class));
        }
        let bundle = bundle.clone();
        let embedded = tokio::task::spawn_blocking(move || embed(&bundle, labelled))
            .await
            .map_err(|e| ServiceError::Storage(e.to_string()))??;
        skipped += batch.len() - embedded.len();
        for (class, row) in embedded {
            let sum = sums[class].get_or_insert_with(|| vec![0.0; row.len()]);
            sum.iter_mut().zip(&row).for_each(|(s, v)| *s += v);
        }
    }
    for sum in sums.iter_mut().flatten() {
        let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        sum.iter_mut().for_each(|v| *v /= norm);
    }
    let total = data.samples.len() - skipped;
    let mut out = Prototyped { classes: 0, new_classes: 0, photos: total };
    for (class, sum) in data.classes.iter().zip(sums) {
        let Some(prototype) = sum else { continue };
        out.classes += 1;
        let species = catalogue::for_label(class);
        let same = |l: &Label| l.name.eq_ignore_ascii_case(class) || species.is_some_and(|s| s.answers_to(&l.name));
        match manifest.labels.iter_mut().find(|l| same(l)) {
            Some(label) => label.prototype = Some(prototype),
            None => {
                out.new_classes += 1;
                manifest.labels.push(Label {
                    index: manifest.labels.len(),
                    name: class.clone(),
                    taxon: super::fine_tune::taxon_of(class),
                    prompts: Vec::new(),
                    described: Vec::new(),
                    prototype: Some(prototype),
                });
            }
        }
    }
    if let Some(spec) = manifest.image_text.as_mut() {
        spec.photo_weight = photo_weight;
    }
    Ok(out)
}

async fn read(photos: &PhotoStore, sample: &Sample) -> Result<Vec<u8>, ServiceError> {
    match sample {
        Sample::Stored(sha) => photos.read(sha).await.map_err(|e| ServiceError::Storage(format!("photo {sha}: {e}"))),
        Sample::File(path) => {
            std::fs::read(path).map_err(|e| ServiceError::Storage(format!("{}: {e}", path.display())))
        }
    }
}

/// Unit image embeddings of the photos that decode, each with its class (one that does not is
/// left out, not the whole job).
fn embed(bundle: &ModelBundle, labelled: Vec<(Vec<u8>, usize)>) -> Result<Vec<(usize, Vec<f32>)>, ServiceError> {
    let prep = bundle.preprocessing();
    let (inputs, classes): (Vec<Vec<f32>>, Vec<usize>) = labelled
        .iter()
        .filter_map(|(bytes, class)| preprocess::prepare(bytes, prep).ok().map(|input| (input, *class)))
        .unzip();
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let embedded = bundle
        .image_embeddings(&refs)
        .ok_or_else(|| ServiceError::InvalidInput("only an image–text model embeds photos".into()))??;
    Ok(classes.into_iter().zip(embedded).collect())
}
