//! An imported dataset's classes.txt and split lists (IP102 layout): every line is taken or
//! refused with a reason; no path may leave the dataset directory.
#![no_main]

use insectid::services::dataset_import::plan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // classes.txt, then train.txt, separated by the first NUL byte.
    let (classes, list) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let dir = std::env::temp_dir().join(format!("insectid-fuzz-lists-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::write(dir.join("classes.txt"), classes).unwrap();
    std::fs::write(dir.join("train.txt"), list).unwrap();
    if let Ok(p) = plan(&dir) {
        for entry in &p.entries {
            assert!(entry.path.starts_with(dir.join("images")), "{} leaves the dataset", entry.path.display());
        }
    }
});
