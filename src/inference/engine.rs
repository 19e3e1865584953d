//! The inference engine: one dispatcher thread owning the model, fed through a bounded queue
//! and batching requests dynamically (up to `max_batch` inputs or `max_wait`), hands batches
//! to forward-pass threads ([`super::forward_pool`]), so the async runtime never blocks on a
//! forward pass and overload becomes a clear "busy" answer.
//! Switching models goes through the same queue: requests queued before the switch finish on
//! the old model, later ones run on the new one, and every answer names the model that gave it.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::active_model::{load_and_warm_up, ActiveModel};
use super::forward_pool::{Batch, ForwardPool, Parallelism};
use super::preprocess::Preprocessing;
use super::{DevicePreference, InferenceError, ModelBundle, Scores};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub device: DevicePreference,
    /// Intra-op threads per forward pass on the CPU; 0 shares the cores among the workers.
    pub threads: usize,
    /// Forward passes at once; 0: one per core on a CPU, one on a GPU ([`super::cpu_plan`]).
    pub workers: usize,
    /// Half precision on a GPU (fp32 bundles); refused on a CPU.
    pub half: bool,
    /// Most inputs per forward pass; 0: measured on a CPU ([`measure_best_batch`]),
    /// [`GPU_BATCH_LIMIT`] on a GPU.
    pub max_batch: usize,
    pub max_wait: Duration,
    pub queue_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            device: DevicePreference::Auto,
            threads: 0,
            workers: 0,
            half: false,
            max_batch: 0,
            max_wait: Duration::from_millis(2),
            queue_capacity: 64,
        }
    }
}

/// The batch limit on a GPU when none is configured: a GPU needs large batches to be busy,
/// and dynamic batching only waits for them under load.
pub const GPU_BATCH_LIMIT: usize = 128;

/// One forward pass's result for one input, with the model that produced it.
pub struct Classified {
    pub model: Arc<ActiveModel>,
    pub probabilities: Vec<f32>,
    /// The unit image embedding, from an image–text model (text search keeps it).
    pub embedding: Option<Vec<f32>>,
    /// Inputs in the batch this one ran in.
    pub batch_size: usize,
}

pub(super) struct Job {
    input: Vec<f32>,
    reply: oneshot::Sender<Result<Classified, InferenceError>>,
}

enum Command {
    Classify(Job),
    Switch(Arc<ModelBundle>, Arc<ActiveModel>, oneshot::Sender<()>),
}

pub struct InferenceEngine {
    sender: SyncSender<Command>,
    current: Arc<RwLock<Arc<ActiveModel>>>,
    config: EngineConfig,
    /// Cleared when the queue thread ends (it never should while the engine lives).
    alive: Arc<std::sync::atomic::AtomicBool>,
}

impl InferenceEngine {
    /// Loads the bundle, runs the warm-up, and starts the queue and worker threads. Blocking:
    /// call it from a blocking context.
    pub fn start(bundle_dir: &Path, config: EngineConfig) -> Result<Self, InferenceError> {
        let (bundle, active) = load_and_warm_up(bundle_dir, &config)?;
        let parallelism = Parallelism::of(&active);
        let pool = ForwardPool::start(parallelism.workers, parallelism.threads)?;
        let active = Arc::new(active);
        let current = Arc::new(RwLock::new(active.clone()));
        // Room for two full batches at least, so a GPU's large batches can fill.
        let capacity = config.queue_capacity.max(2 * active.status.max_batch).max(1);
        let (sender, receiver) = mpsc::sync_channel::<Command>(capacity);
        let worker_current = current.clone();
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let worker_alive = alive.clone();
        std::thread::Builder::new()
            .name("inference-queue".into())
            .spawn(move || {
                // Cleared however the queue thread ends, a panic included.
                let _alive = ClearOnDrop(worker_alive);
                serve(bundle, active, receiver, worker_current, config.max_wait, pool);
            })
            .map_err(|e| InferenceError::Device(format!("cannot start the inference thread: {e}")))?;
        Ok(InferenceEngine { sender, current, config, alive })
    }

    /// Whether the queue thread still takes requests.
    pub fn is_running(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The model answering now.
    pub fn active(&self) -> Arc<ActiveModel> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn preprocessing(&self) -> Preprocessing {
        Preprocessing::from(&self.active().manifest)
    }

    /// Class probabilities for one prepared input. Fails fast with [`InferenceError::Busy`]
    /// when the queue is full instead of letting memory grow.
    pub async fn classify(&self, input: Vec<f32>) -> Result<Classified, InferenceError> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(Command::Classify(Job { input, reply })) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("insectid_engine_busy_total").increment(1);
                return Err(InferenceError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(InferenceError::Stopped),
        }
        answer.await.map_err(|_| InferenceError::Stopped)?
    }

    /// Loads and proves another bundle, then makes it the active model. Blocking. On any
    /// failure the active model stays as it was. Returns once the queue has moved to the new
    /// model: batches handed out before may still be running on the old one (their answers
    /// name it).
    pub fn switch_to(&self, bundle_dir: &Path) -> Result<Arc<ActiveModel>, InferenceError> {
        let (bundle, active) = load_and_warm_up(bundle_dir, &self.config)?;
        let active = Arc::new(active);
        let (ack, done) = oneshot::channel();
        self.sender.send(Command::Switch(bundle, active.clone(), ack)).map_err(|_| InferenceError::Stopped)?;
        done.blocking_recv().map_err(|_| InferenceError::Stopped)?;
        Ok(active)
    }
}

struct ClearOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve(
    mut bundle: Arc<ModelBundle>,
    mut active: Arc<ActiveModel>,
    receiver: mpsc::Receiver<Command>,
    current: Arc<RwLock<Arc<ActiveModel>>>,
    max_wait: Duration,
    mut pool: ForwardPool,
) {
    let mut pending: Option<Command> = None;
    loop {
        let command = match pending.take() {
            Some(c) => c,
            None => match receiver.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
        };
        let first = match command {
            Command::Switch(new_bundle, new_active, ack) => {
                if Parallelism::of(&new_active) != Parallelism::of(&active) {
                    // Another device (an int8 bundle on a GPU host): workers to suit it. The
                    // old ones finish the batches they hold, then end.
                    let plan = Parallelism::of(&new_active);
                    match ForwardPool::start(plan.workers, plan.threads) {
                        Ok(new_pool) => pool = new_pool,
                        Err(e) => tracing::error!(error = %e, "keeping the inference threads as they were"),
                    }
                }
                bundle = new_bundle;
                active = new_active;
                match current.write() {
                    Ok(mut guard) => *guard = active.clone(),
                    Err(poisoned) => *poisoned.into_inner() = active.clone(),
                }
                tracing::info!(model = %active.status.name, version = %active.status.version, "active model switched");
                let _ = ack.send(());
                continue;
            }
            Command::Classify(job) => job,
        };
        let mut jobs = vec![first];
        // Each bundle's own limit, measured on its device when not configured.
        let max_batch = active.status.max_batch;
        let deadline = Instant::now() + max_wait;
        while jobs.len() < max_batch {
            let next = match receiver.try_recv() {
                Ok(c) => Some(c),
                Err(mpsc::TryRecvError::Disconnected) => None,
                Err(mpsc::TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        None
                    } else {
                        // Timed out or disconnected: the batch goes as it is.
                        receiver.recv_timeout(deadline - now).ok()
                    }
                }
            };
            match next {
                Some(Command::Classify(job)) => jobs.push(job),
                // A switch waits until the batch queued before it has run on the old model.
                Some(switch) => {
                    pending = Some(switch);
                    break;
                }
                None => break,
            }
        }
        // Batches queued before a switch carry the old model with them.
        if !pool.run(Batch { bundle: bundle.clone(), active: active.clone(), jobs }) {
            break;
        }
    }
    tracing::info!("inference queue stopped");
}

pub(super) fn run_batch(bundle: &ModelBundle, active: &Arc<ActiveModel>, mut jobs: Vec<Job>) {
    // A caller that gave up (client disconnected) costs no compute.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return;
    }
    let inputs: Vec<&[f32]> = jobs.iter().map(|j| j.input.as_slice()).collect();
    let batch_size = jobs.len();
    let started = Instant::now();
    // tch panics on some libtorch errors: the callers get an error and the worker lives on.
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bundle.scores(&inputs))).unwrap_or_else(|panic| {
            Err(InferenceError::Device(format!("the forward pass failed: {}", panic_text(panic.as_ref()))))
        });
    metrics::histogram!("insectid_batch_size").record(batch_size as f64);
    metrics::histogram!("insectid_forward_seconds").record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(rows) => {
            for (job, Scores { probabilities, embedding }) in jobs.into_iter().zip(rows) {
                let reply = Classified { model: active.clone(), probabilities, embedding, batch_size };
                let _ = job.reply.send(Ok(reply));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = batch_size, "forward pass failed");
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic")
}
