//! How many photos are decoded at once, and how much memory their pixels may take together.
//! A request waits a little for room and is refused as busy after that, so a burst of large
//! photos queues briefly instead of exhausting memory or the blocking thread pool.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::preprocess::ImageSize;
use super::InferenceError;

const MIB: u64 = 1024 * 1024;
/// Memory all decodes in flight may hold together (decoded pixels and their reduced copy).
pub const DECODE_MEMORY_BYTES: u64 = 384 * MIB;
/// How long a photo waits for room before the request is answered "busy".
const WAIT: Duration = Duration::from_secs(10);

/// Room to decode one photo; given back when dropped.
#[must_use]
pub struct DecodePermit {
    _memory: OwnedSemaphorePermit,
    _slot: OwnedSemaphorePermit,
}

pub struct DecodeBudget {
    memory: Arc<Semaphore>,
    memory_mib: u32,
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl DecodeBudget {
    pub fn new(memory_bytes: u64, slots: usize, wait: Duration) -> Self {
        let memory_mib = (memory_bytes / MIB).clamp(1, u64::from(u32::MAX)) as u32;
        DecodeBudget {
            memory: Arc::new(Semaphore::new(memory_mib as usize)),
            memory_mib,
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }

    /// The process's budget: as many decodes at once as there are cores.
    pub fn global() -> &'static DecodeBudget {
        static BUDGET: OnceLock<DecodeBudget> = OnceLock::new();
        BUDGET.get_or_init(|| {
            let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
            DecodeBudget::new(DECODE_MEMORY_BYTES, cores, WAIT)
        })
    }

    /// The memory a decode of this size is charged: its pixels, a quarter more for the
    /// reduced copy and orientation, and a floor for the decoder's own buffers.
    fn charge_mib(size: &ImageSize) -> u64 {
        (size.decoded_bytes + size.decoded_bytes / 4 + 8 * MIB).div_ceil(MIB)
    }

    /// Waits for room to decode a photo of this size; busy when none comes in time, refused
    /// when the photo alone needs more than the whole budget.
    pub async fn reserve(&self, size: &ImageSize) -> Result<DecodePermit, InferenceError> {
        let mib = Self::charge_mib(size);
        if mib > u64::from(self.memory_mib) {
            return Err(InferenceError::BadImage(format!(
                "the image is {}×{} pixels, too large to decode here",
                size.width, size.height
            )));
        }
        let memory = tokio::time::timeout(self.wait, self.memory.clone().acquire_many_owned(mib as u32));
        let memory = memory.await.map_err(|_| InferenceError::Busy)?.map_err(|_| InferenceError::Stopped)?;
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned());
        let slot = slot.await.map_err(|_| InferenceError::Busy)?.map_err(|_| InferenceError::Stopped)?;
        metrics::gauge!("insectid_decode_memory_free_mib").set(self.memory.available_permits() as f64);
        Ok(DecodePermit { _memory: memory, _slot: slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(mb: u64) -> ImageSize {
        ImageSize { width: 1000, height: 1000, decoded_pixels: mb * MIB / 4, decoded_bytes: mb * MIB }
    }

    #[tokio::test]
    async fn decodes_wait_for_memory_and_are_refused_as_busy_when_none_comes() {
        let budget = DecodeBudget::new(100 * MIB, 4, Duration::from_millis(200));
        let first = budget.reserve(&size(60)).await.unwrap();
        // 60 MB + 60 MB does not fit in 100: the second waits, then is refused as busy.
        assert!(matches!(budget.reserve(&size(60)).await, Err(InferenceError::Busy)));
        drop(first);
        let _second = budget.reserve(&size(60)).await.unwrap();
        // Larger than the whole budget: refused at once with the reason, not "busy".
        match budget.reserve(&size(200)).await {
            Err(InferenceError::BadImage(m)) => assert!(m.contains("too large"), "{m}"),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }

    #[tokio::test]
    async fn at_most_the_slot_count_decode_at_once() {
        let budget = DecodeBudget::new(1000 * MIB, 2, Duration::from_millis(200));
        let a = budget.reserve(&size(1)).await.unwrap();
        let _b = budget.reserve(&size(1)).await.unwrap();
        assert!(matches!(budget.reserve(&size(1)).await, Err(InferenceError::Busy)));
        drop(a);
        assert!(budget.reserve(&size(1)).await.is_ok());
    }
}
