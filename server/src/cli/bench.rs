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
    let mut bundle = ModelBundle::load(&config.model_dir(), device).map_err(|e| StartError(e.to_string()))?;
    if engine.half {
        bundle.to_half().map_err(|e| StartError(e.to_string()))?;
    }
    let precision = if engine.half { "fp16" } else { bundle.manifest.precision.as_str() };
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
            println!(
                "batch {:>3}: {rate:>8.1} images/s   median pass {median:>8.2} ms   ({passes} passes)",
                inputs.len()
            );
        }
        rows.push(serde_json::json!({ "batch": inputs.len(), "workers": 1, "threads": tch::get_num_threads(), "images_per_second": rate, "median_pass_ms": median }));
    }
    // The server's way on a CPU (by default a pass per core at once, one thread each).
    let cores = insectid::inference::torch_threads::all_cores();
    let (workers, threads) = insectid::inference::cpu_plan(engine.workers, engine.threads, cores);
    if bundle.device == tch::Device::Cpu && workers > 1 {
        for &batch in batches {
            let (rate, median) = parallel_rate(&bundle, &input, batch.max(1), workers, threads, seconds)?;
            if !json {
                println!("{workers} passes at once on {threads} threads each, batch {batch:>3}: {rate:>8.1} images/s   median pass {median:>8.2} ms");
            }
            rows.push(serde_json::json!({ "batch": batch.max(1), "workers": workers, "threads": threads, "images_per_second": rate, "median_pass_ms": median }));
        }
    }
    let jpeg_ms = preprocess_12mp_jpeg(&bundle)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "device": format!("{:?}", bundle.device), "precision": precision, "threads": tch::get_num_threads(), "batches": rows, "preprocess_12mp_jpeg_ms": jpeg_ms })
        );
    } else {
        println!("preprocessing a 4032×3024 JPEG: {jpeg_ms:.1} ms (median of 10)");
    }
    Ok(())
}

/// Images per second and median pass time of `workers` threads running passes at once, each
/// computing on `threads` threads.
fn parallel_rate(
    bundle: &ModelBundle,
    input: &[f32],
    batch: usize,
    workers: usize,
    threads: usize,
    seconds: f64,
) -> Result<(f64, f64), StartError> {
    let inputs: Vec<&[f32]> = vec![input; batch];
    let started = Instant::now();
    let per_worker: Vec<Result<Vec<f64>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    insectid::inference::torch_threads::compute_on(threads);
                    bundle.probabilities(&inputs).map_err(|e| e.to_string())?;
                    let mut times = Vec::new();
                    while started.elapsed() < Duration::from_secs_f64(seconds) || times.len() < 3 {
                        let t = Instant::now();
                        bundle.probabilities(&inputs).map_err(|e| e.to_string())?;
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(times)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a benchmark thread panicked".into()))).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for worker in per_worker {
        times.extend(worker.map_err(StartError)?);
    }
    times.sort_by(f64::total_cmp);
    Ok(((times.len() * batch) as f64 / elapsed, times[times.len() / 2]))
}

/// Median time to turn a 12-megapixel phone-sized JPEG into the model input.
fn preprocess_12mp_jpeg(bundle: &ModelBundle) -> Result<f64, StartError> {
    let photo = image::RgbImage::from_fn(4032, 3024, |x, y| {
        let v = ((x as f32 / 37.0).sin() * 70.0 + (y as f32 / 23.0).cos() * 50.0 + 128.0) as u8;
        image::Rgb([v, v / 2 + (x % 64) as u8, 255 - v])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(photo)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .map_err(|e| StartError(e.to_string()))?;
    let bytes = jpeg.into_inner();
    let p = bundle.preprocessing();
    let mut times: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            insectid::inference::preprocess::prepare(&bytes, p).map(|_| t.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| StartError(e.to_string()))?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
