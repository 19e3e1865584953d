//! Forward passes on several CPU threads at once. Under load a CPU serves more photos with one
//! forward pass per core, each on its own intra-op thread, than with one pass spread over all
//! cores: the rest of a request (decoding, HTTP, the database) keeps preempting one of a
//! spread pass's threads, and the others wait for it at every layer. Measured on 2 cores with
//! the int8 Lite0 bundle, single photos, resizes on one thread: one pass on 2 threads served
//! 110 photos/s, one pass on 1 thread 185-190, two passes on 1 thread each 208-217.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use super::engine::{run_batch, Job};
use super::torch_threads::{all_cores, compute_on};
use super::EngineConfig;
use super::{ActiveModel, InferenceError, ModelBundle};

/// A batch and the model it was gathered for: a switch meanwhile does not change it.
pub(super) struct Batch {
    pub bundle: Arc<ModelBundle>,
    pub active: Arc<ActiveModel>,
    pub jobs: Vec<Job>,
}

/// Worker threads taking batches one at a time; handing one over waits for a free worker, so
/// work waits only in the engine's bounded queue (which answers "busy" when full) and in the
/// one batch the queue thread holds.
pub(super) struct ForwardPool {
    sender: SyncSender<Batch>,
}

impl ForwardPool {
    /// Starts `workers` threads computing with `threads` intra-op threads each (0: libtorch's
    /// default).
    pub fn start(workers: usize, threads: usize) -> Result<Self, InferenceError> {
        let (sender, receiver) = mpsc::sync_channel::<Batch>(0);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name("inference".into())
                .spawn(move || {
                    compute_on(threads);
                    work(&receiver);
                })
                .map_err(|e| InferenceError::Device(format!("cannot start an inference thread: {e}")))?;
        }
        Ok(ForwardPool { sender })
    }

    /// Runs the batch on the next free worker. False when the workers are gone.
    pub fn run(&self, batch: Batch) -> bool {
        self.sender.send(batch).is_ok()
    }
}

fn work(receiver: &Mutex<Receiver<Batch>>) {
    loop {
        // One idle worker waits on the channel, the others on the lock.
        let next = match receiver.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else { return };
        run_batch(&batch.bundle, &batch.active, batch.jobs);
    }
}

/// Runs `f` on a thread computing with `threads` intra-op threads, as a worker does (the
/// warm-up and the batch-limit measurement run so).
pub fn on_worker_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                compute_on(threads);
                f()
            })
            .join()
    });
    match result {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// How many forward passes run at once, and on how many intra-op threads each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parallelism {
    pub workers: usize,
    pub threads: usize,
}

impl Parallelism {
    /// By the device the bundle runs on, not the one configured: an int8 bundle runs on the
    /// CPU of a GPU host.
    pub fn for_device(config: &EngineConfig, device: tch::Device) -> Self {
        let cores = all_cores();
        match device {
            tch::Device::Cpu => {
                let (workers, threads) = cpu_plan(config.workers, config.threads, cores);
                Parallelism { workers, threads }
            }
            // A GPU pass needs few CPU threads, but say how many: a thread's count is its own.
            _ => Parallelism {
                workers: config.workers.max(1),
                threads: if config.threads > 0 { config.threads } else { cores },
            },
        }
    }

    pub fn of(active: &ActiveModel) -> Self {
        Parallelism { workers: active.status.workers, threads: active.status.threads }
    }
}

/// Forward passes at once and intra-op threads for each on a CPU with `cores` cores, from the
/// configured values (0: choose): by default a pass per core on one thread each.
pub fn cpu_plan(workers: usize, threads: usize, cores: usize) -> (usize, usize) {
    let cores = cores.max(1);
    match (workers, threads) {
        (0, 0) => (cores, 1),
        (0, t) => ((cores / t).max(1), t),
        (w, 0) => (w, (cores / w).max(1)),
        (w, t) => (w, t),
    }
}

#[cfg(test)]
mod tests {
    use super::{all_cores, cpu_plan, EngineConfig, Parallelism};

    #[test]
    fn the_plan_follows_the_device_the_bundle_runs_on() {
        let config = EngineConfig::default();
        let cores = all_cores();
        assert_eq!(Parallelism::for_device(&config, tch::Device::Cpu), Parallelism { workers: cores, threads: 1 });
        // An fp32 bundle on the GPU: one pass, CPU threads stated, not inherited.
        assert_eq!(Parallelism::for_device(&config, tch::Device::Cuda(0)), Parallelism { workers: 1, threads: cores });
        let fixed = EngineConfig { workers: 3, threads: 2, ..config };
        assert_eq!(Parallelism::for_device(&fixed, tch::Device::Cuda(0)), Parallelism { workers: 3, threads: 2 });
        assert_eq!(Parallelism::for_device(&fixed, tch::Device::Cpu), Parallelism { workers: 3, threads: 2 });
    }

    #[test]
    fn the_plan_fills_the_cores_unless_configured() {
        assert_eq!(cpu_plan(0, 0, 2), (2, 1));
        assert_eq!(cpu_plan(0, 0, 16), (16, 1));
        assert_eq!(cpu_plan(0, 4, 16), (4, 4));
        assert_eq!(cpu_plan(0, 8, 2), (1, 8));
        assert_eq!(cpu_plan(1, 0, 2), (1, 2));
        assert_eq!(cpu_plan(3, 2, 2), (3, 2));
        assert_eq!(cpu_plan(0, 0, 0), (1, 1));
    }
}
