//! The run's figures per transaction and per request (count, failures, rate, p50/p95/p99),
//! written as JSON to LOAD_SUMMARY for scripts/load/report.py.

use goose::metrics::{GooseMetrics, GooseRequestMetricTimingData};
use serde::Serialize;

#[derive(Serialize)]
struct Line {
    scenario: String,
    name: String,
    count: usize,
    failures: usize,
    per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Transactions the end of the run interrupted (not errors).
    cut_by_end: usize,
}

/// A scenario and how many simulated people ran it.
#[derive(Serialize)]
struct ScenarioUsers {
    name: String,
    users: usize,
}

#[derive(Serialize)]
struct Summary {
    seconds: usize,
    users: usize,
    scenarios: Vec<ScenarioUsers>,
    requests: usize,
    request_failures: usize,
    requests_per_second: f64,
    transactions: Vec<Line>,
    request_lines: Vec<Line>,
    errors: Vec<String>,
}

fn percentile(data: &GooseRequestMetricTimingData, share: f64) -> f64 {
    let mut buckets: Vec<(u64, usize)> = data.times_us.iter().map(|(b, c)| (*b, *c)).collect();
    buckets.sort_unstable();
    let total: usize = buckets.iter().map(|(_, c)| c).sum();
    let rank = ((total as f64) * share).ceil().max(1.0) as usize;
    let mut seen = 0;
    for (bucket, count) in buckets {
        seen += count;
        if seen >= rank {
            return bucket as f64 / 1000.0;
        }
    }
    data.maximum_time_us as f64 / 1000.0
}

fn line(scenario: &str, name: &str, data: &GooseRequestMetricTimingData, count: usize, failures: usize, seconds: f64) -> Line {
    Line {
        scenario: scenario.into(),
        name: name.into(),
        count,
        failures,
        per_second: count as f64 / seconds,
        p50_ms: percentile(data, 0.50),
        p95_ms: percentile(data, 0.95),
        p99_ms: percentile(data, 0.99),
        max_ms: data.maximum_time_us as f64 / 1000.0,
        cut_by_end: 0,
    }
}

pub fn write(metrics: &GooseMetrics) -> Result<(), String> {
    let Ok(path) = std::env::var("LOAD_SUMMARY") else { return Ok(()) };
    let seconds = metrics.duration.max(1) as f64;
    let transactions = metrics
        .transactions
        .iter()
        .flatten()
        .filter(|t| t.success_count + t.fail_count > 0)
        .map(|t| {
            let name = t.transaction_name.name_for_transaction();
            // A transaction the run's end cut short counts as failed in goose's tally but is
            // no error (goose records no error for it); only recorded errors count here.
            let errors: usize = metrics
                .transaction_errors
                .values()
                .filter(|e| e.scenario_index == t.scenario_index && e.transaction_index == t.transaction_index)
                .map(|e| e.occurrences)
                .sum();
            let mut l = line(&t.scenario_name, name, &t.run_times, t.success_count + t.fail_count, errors, seconds);
            l.cut_by_end = t.fail_count.saturating_sub(errors);
            l
        })
        .collect();
    let mut request_lines: Vec<Line> = metrics
        .requests
        .iter()
        .map(|(key, r)| line("", key, &r.raw_data, r.success_count + r.fail_count, r.fail_count, seconds))
        .collect();
    request_lines.sort_by(|a, b| a.name.cmp(&b.name));
    let requests: usize = request_lines.iter().map(|l| l.count).sum();
    let summary = Summary {
        seconds: metrics.duration,
        users: metrics.maximum_users,
        scenarios: metrics
            .scenarios
            .iter()
            .filter(|s| !s.users.is_empty())
            .map(|s| ScenarioUsers { name: s.name.to_string(), users: s.users.len() })
            .collect(),
        requests,
        request_failures: request_lines.iter().map(|l| l.failures).sum(),
        requests_per_second: requests as f64 / seconds,
        transactions,
        request_lines,
        errors: metrics
            .errors
            .values()
            .map(|e| format!("{} × {} {}: {}", e.occurrences, e.method, e.name, e.error))
            .chain(metrics.transaction_errors.values().map(|e| format!("{} × transaction {} / {}: {}", e.occurrences, e.scenario_name, e.transaction_name, e.error)))
            .collect(),
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{path}: {e}"))
}
