//! An uploaded bundle's manifest.json: parsed and validated, refused with a reason, never a panic.
#![no_main]

use insectid::inference::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = serde_json::from_slice::<Manifest>(data) {
        let _ = manifest.validate();
        let _ = manifest.arthropod_classes();
    }
});
