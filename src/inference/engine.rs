//! The inference engine: one dedicated worker thread owning the model, fed through a bounded
//! queue and batching requests dynamically (up to `max_batch` inputs or `max_wait`), so the
//! async runtime never blocks on a forward pass and overload becomes a clear "busy" answer.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use image::{DynamicImage, RgbImage};
use tokio::sync::oneshot;

use super::preprocess::{self, Preprocessing};
use super::{device_name, DevicePreference, InferenceError, Manifest, ModelBundle, TopClass};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub device: DevicePreference,
    /// Intra-op threads for the CPU; 0 lets libtorch decide.
    pub threads: usize,
    pub max_batch: usize,
    pub max_wait: Duration,
    pub queue_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            device: DevicePreference::Auto,
            threads: 0,
            max_batch: 8,
            max_wait: Duration::from_millis(2),
            queue_capacity: 64,
        }
    }
}

/// What the model status page shows: which model answers, where it runs, and proof it works.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub description: String,
    pub classes: usize,
    pub arthropod_classes: usize,
    pub device: String,
    pub input_size: u32,
    pub threads: usize,
    pub max_batch: usize,
    pub loaded_at: DateTime<Utc>,
    pub load_ms: f64,
    /// Preprocessing plus forward pass of the start-up image.
    pub warmup_ms: f64,
    pub warmup_top: Vec<TopClass>,
}

struct Job {
    input: Vec<f32>,
    reply: oneshot::Sender<Result<Vec<f32>, InferenceError>>,
}

pub struct InferenceEngine {
    sender: SyncSender<Job>,
    status: ModelStatus,
    manifest: Manifest,
}

impl InferenceEngine {
    /// Loads the bundle on a new worker thread, runs the warm-up, and returns once the model
    /// has answered (or with the reason it could not).
    pub fn start(bundle_dir: &Path, config: EngineConfig) -> Result<Self, InferenceError> {
        let device = config.device.resolve()?;
        let (sender, receiver) = mpsc::sync_channel::<Job>(config.queue_capacity.max(1));
        let (ready_tx, ready_rx) = mpsc::channel();
        let dir = bundle_dir.to_path_buf();
        let worker_config = config.clone();
        std::thread::Builder::new()
            .name("inference".into())
            .spawn(move || {
                if worker_config.threads > 0 {
                    tch::set_num_threads(worker_config.threads as i32);
                }
                let started = Instant::now();
                let bundle = match ModelBundle::load(&dir, device) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let load_ms = started.elapsed().as_secs_f64() * 1000.0;
                match warm_up(&bundle) {
                    Ok((warmup_ms, warmup_top)) => {
                        let status = ModelStatus {
                            name: bundle.manifest.name.clone(),
                            version: bundle.manifest.version.clone(),
                            architecture: bundle.manifest.architecture.clone(),
                            description: bundle.manifest.description.clone(),
                            classes: bundle.manifest.labels.len(),
                            arthropod_classes: bundle.manifest.arthropod_classes(),
                            device: device_name(device),
                            input_size: bundle.manifest.input_size,
                            threads: tch::get_num_threads() as usize,
                            max_batch: worker_config.max_batch.max(1),
                            loaded_at: Utc::now(),
                            load_ms,
                            warmup_ms,
                            warmup_top,
                        };
                        let _ = ready_tx.send(Ok((status, bundle.manifest.clone())));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
                serve_batches(&bundle, receiver, &worker_config);
            })
            .map_err(|e| InferenceError::Device(format!("cannot start the inference thread: {e}")))?;
        let (status, manifest) = ready_rx.recv().map_err(|_| InferenceError::Stopped)??;
        Ok(InferenceEngine { sender, status, manifest })
    }

    pub fn status(&self) -> &ModelStatus {
        &self.status
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn preprocessing(&self) -> Preprocessing {
        Preprocessing::from(&self.manifest)
    }

    /// Class probabilities for one prepared input. Fails fast with [`InferenceError::Busy`]
    /// when the queue is full instead of letting memory grow.
    pub async fn probabilities(&self, input: Vec<f32>) -> Result<Vec<f32>, InferenceError> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(Job { input, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(InferenceError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(InferenceError::Stopped),
        }
        answer.await.map_err(|_| InferenceError::Stopped)?
    }
}

/// A deterministic synthetic photo (a coloured gradient), so start-up needs no file.
fn warmup_image() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x * 255 / 639) as u8, (y * 255 / 479) as u8, ((x + y) % 256) as u8])
    }))
}

fn warm_up(bundle: &ModelBundle) -> Result<(f64, Vec<TopClass>), InferenceError> {
    let image = warmup_image();
    let started = Instant::now();
    let p = bundle.preprocessing();
    let input = preprocess::model_input(&image, p)?;
    let rows = bundle.probabilities(&[&input])?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let top = rows.first().map(|r| bundle.top_k(r, 3)).unwrap_or_default();
    Ok((ms, top))
}

fn serve_batches(bundle: &ModelBundle, receiver: mpsc::Receiver<Job>, config: &EngineConfig) {
    let max_batch = config.max_batch.max(1);
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        while jobs.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => {
                    jobs.push(job);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match receiver.recv_timeout(deadline - now) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        // A caller that gave up (client disconnected) costs no compute.
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let inputs: Vec<&[f32]> = jobs.iter().map(|j| j.input.as_slice()).collect();
        match bundle.probabilities(&inputs) {
            Ok(rows) => {
                for (job, row) in jobs.into_iter().zip(rows) {
                    let _ = job.reply.send(Ok(row));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = jobs.len(), "forward pass failed");
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
    tracing::info!("inference worker stopped");
}
