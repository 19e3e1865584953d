//! The command line's output is read by programs as well as people: with `--json` stdout holds
//! the JSON and nothing else, and every log line goes to stderr, in either log format.

use std::process::Command;

#[test]
fn identify_json_prints_only_json_on_stdout_and_logs_on_stderr() {
    let work = std::env::temp_dir().join(format!("insectid-cli-output-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let photo = work.join("beetle.png");
    std::fs::write(&photo, insectid::testing::coloured_photo(0, 7)).unwrap();
    let model = insectid::testing::test_model_dir();
    for format in ["text", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_insectid"))
            .args(["--data-dir", &work.join("data").display().to_string()])
            .args(["--model-dir", &model.display().to_string()])
            .args(["identify", &photo.display().to_string(), "--json"])
            .env("INSECTID_LOG", "info")
            .env("INSECTID_LOG_FORMAT", format)
            .env("INSECTID_INFERENCE_THREADS", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: identify failed:\n{stderr}");
        let parsed: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{format}: stdout is not JSON alone ({e}):\n{stdout}"));
        assert_eq!(parsed.as_array().map(Vec::len), Some(1), "{format}: {parsed}");
        assert!(parsed[0]["result"]["answer"]["top"].is_array(), "{format}: {parsed}");
        assert!(stderr.contains("model loaded"), "{format}: the log lines go to stderr:\n{stderr}");
    }
    std::fs::remove_dir_all(&work).ok();
}

/// `insectid eval` states how far top-1 can be trusted and how each kind of verdict fared.
#[test]
fn eval_prints_the_top1_interval_and_each_verdicts_share_and_precision() {
    let work = insectid::testing::TempDir::new("insectid-cli-eval");
    let photos = work.path().join("photos");
    for (class, first) in [("weevil", 0), ("no insect", 10)] {
        std::fs::create_dir_all(photos.join(class)).unwrap();
        for i in 0..4 {
            let file = photos.join(class).join(format!("{i}.png"));
            std::fs::write(file, insectid::testing::coloured_photo(first + i, 7)).unwrap();
        }
    }
    let model = insectid::testing::test_model_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_insectid"))
        .args(["--data-dir", &work.path().join("data").display().to_string()])
        .args(["--model-dir", &model.display().to_string()])
        .args(["eval", &photos.display().to_string(), "--out", &work.path().join("report").display().to_string()])
        .env("INSECTID_INFERENCE_THREADS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("report/report.json")).unwrap()).unwrap();
    let top1 = report["top1"].as_f64().unwrap();
    let (low, high) = insectid::services::evaluation::wilson_interval((top1 * 8.0).round() as u64, 8);
    let stated = format!("(95 % interval {:.1}–{:.1} %)", low * 100.0, high * 100.0);
    assert!(stdout.contains(&stated), "top-1 {top1} should come with {stated}:\n{stdout}");
    // Eight photos, so eight answers: each verdict's share and precision, from report.json's counts.
    let verdicts = report["headlines"].as_array().unwrap();
    assert_eq!(verdicts.iter().map(|v| v["answers"].as_u64().unwrap()).sum::<u64>(), 8, "{report}");
    assert!(stdout.contains("verdict") && stdout.contains("share"), "{stdout}");
    for v in verdicts {
        let (answers, right) = (v["answers"].as_f64().unwrap(), v["right"].as_f64().unwrap());
        let row = format!(
            "{:<12} {:>7} {:>6.1}% {:>6.1}%",
            v["kind"].as_str().unwrap(),
            answers,
            answers / 8.0 * 100.0,
            right / answers * 100.0
        );
        assert!(stdout.contains(&row), "missing row {row:?}:\n{stdout}");
    }
}
