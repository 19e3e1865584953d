//! An uploaded .zip (datasets, model bundles): unpacked or refused; nothing may be written
//! outside the target directory.
#![no_main]

use insectid::services::archive::unpack_zip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let base = std::env::temp_dir().join(format!("insectid-fuzz-zip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let target = base.join("target");
    std::fs::create_dir_all(&target).unwrap();
    let _ = unpack_zip(data, &target);
    // Only the target directory may have appeared under the base.
    let names: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("target")], "an archive wrote outside its target");
});
