//! Uploaded bytes → model input: decoding (every supported format, EXIF orientation, JPEG
//! scaling), cropping and resizing must answer or refuse, never panic or hang.
#![no_main]

use insectid::inference::preprocess::{prepare, Preprocessing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Preprocessing { input_size: 64, resize_shorter: 73, mean: [0.498; 3], std: [0.502; 3] };
    if let Ok(input) = prepare(data, p) {
        assert_eq!(input.len(), 3 * 64 * 64);
        assert!(input.iter().all(|v| v.is_finite()));
    }
});
