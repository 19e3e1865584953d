//! Choosing the batch limit on a CPU by measuring, when none is configured. The best size
//! depends on the machine's caches and the model: on one 2-core machine the fp32 Lite0 bundle
//! ran fastest per photo at batch 4, on another batch 1 beat batch 4 threefold for the int8
//! bundle (its activations fall out of cache). A GPU always gains from larger batches.

use std::time::{Duration, Instant};

use super::{InferenceError, ModelBundle};

/// The sizes tried; larger ones never won on a CPU and cost start-up time.
const SIZES: [usize; 3] = [1, 2, 4];

/// The batch size with the most photos per second for `bundle` on the calling thread.
pub fn measure_best_batch(bundle: &ModelBundle, input: &[f32]) -> Result<usize, InferenceError> {
    let mut timings = Vec::new();
    for size in SIZES {
        match time_passes(bundle, input, size) {
            Ok(fastest) => timings.push((size, fastest)),
            // A size the machine cannot take (memory) is not a reason to refuse the model.
            Err(e) if size > 1 => {
                tracing::warn!(size, error = %e, "batch size left out of the measurement");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let best = best_batch(&timings);
    let rates: Vec<String> =
        timings.iter().map(|(n, t)| format!("{n}: {:.0}/s", *n as f64 / t.as_secs_f64().max(1e-9))).collect();
    tracing::info!(model = %bundle.manifest.name, best, rates = %rates.join(", "), "batch limit measured");
    Ok(best)
}

/// The fastest of a few passes of `size` copies of `input`, after one to warm up: other work
/// on the machine only ever adds time.
fn time_passes(bundle: &ModelBundle, input: &[f32], size: usize) -> Result<Duration, InferenceError> {
    let inputs: Vec<&[f32]> = vec![input; size];
    bundle.probabilities(&inputs)?;
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        bundle.probabilities(&inputs)?;
        fastest = fastest.min(started.elapsed());
    }
    Ok(fastest)
}

/// The size with the highest rate; a larger size must beat a smaller one by 15 % to be chosen:
/// measured alone a batch of 2 was 5-10 % faster per photo than single photos, but in the
/// loaded server (other threads sharing the caches, two workers) it served 15 % fewer at 4
/// clients, and a larger batch makes its first photo wait longer.
pub fn best_batch(timings: &[(usize, Duration)]) -> usize {
    let rate = |(size, time): &(usize, Duration)| *size as f64 / time.as_secs_f64().max(1e-9);
    let mut best = match timings.first() {
        Some(first) => *first,
        None => return 1,
    };
    for t in &timings[1..] {
        if rate(t) > rate(&best) * 1.15 {
            best = *t;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::best_batch;
    use std::time::Duration;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_size_with_the_most_photos_per_second_wins() {
        // The int8 bundle on one machine: 2.7, 6.1, 26.8 ms.
        assert_eq!(best_batch(&[(1, ms(3)), (2, ms(6)), (4, ms(27))]), 1);
        // fp32 on another: batch 4 clearly best.
        assert_eq!(best_batch(&[(1, ms(16)), (2, ms(30)), (4, ms(50))]), 4);
        // 18 % more photos per second is worth the wait, 10 % is not.
        assert_eq!(best_batch(&[(1, ms(10)), (2, ms(17)), (4, ms(41))]), 2);
        assert_eq!(best_batch(&[(1, ms(10)), (2, ms(18)), (4, ms(37))]), 1);
        assert_eq!(best_batch(&[]), 1);
    }
}
