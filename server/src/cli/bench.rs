//! `insectid bench-forward`: the model's own forward-pass rate, the ceiling any server can reach.

use std::time::{Duration, Instant};

use insectid::inference::ModelBundle;

use crate::config::Config;
use crate::StartError;

/// Prints images per second for each batch size, measured for `seconds` after one warm-up pass.
pub fn bench_forward(config: &Config, batches: &[usize], seconds: f64, json: bool) -> Result<(), StartError> {
    let engine = config.engine();
    if engine.threads > 0 {
        tch::set_num_threads(engine.threads as i32);
    }
    let device = engine.device.resolve().map_err(|e| StartError(e.to_string()))?;
    let bundle = ModelBundle::load(&config.model_dir(), device).map_err(|e| StartError(e.to_string()))?;
    let size = bundle.manifest.input_size as usize;
    let input: Vec<f32> = (0..3 * size * size).map(|i| ((i % 251) as f32 / 125.0) - 1.0).collect();
    let mut rows = Vec::new();
    for &batch in batches {
        let inputs: Vec<&[f32]> = (0..batch.max(1)).map(|_| input.as_slice()).collect();
        bundle.probabilities(&inputs).map_err(|e| StartError(e.to_string()))?;
        let started = Instant::now();
        let mut passes = 0usize;
        let mut times = Vec::new();
        while started.elapsed() < Duration::from_secs_f64(seconds) || passes < 3 {
            let t = Instant::now();
            bundle.probabilities(&inputs).map_err(|e| StartError(e.to_string()))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            passes += 1;
        }
        let elapsed = started.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let rate = (passes * inputs.len()) as f64 / elapsed;
        let median = times[times.len() / 2];
        if !json {
            println!("batch {:>3}: {rate:>8.1} images/s   median pass {median:>8.2} ms   ({passes} passes)", inputs.len());
        }
        rows.push(serde_json::json!({ "batch": inputs.len(), "images_per_second": rate, "median_pass_ms": median }));
    }
    if json {
        println!("{}", serde_json::json!({ "device": format!("{device:?}"), "threads": tch::get_num_threads(), "batches": rows }));
    }
    Ok(())
}
