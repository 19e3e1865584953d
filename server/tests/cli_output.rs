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
