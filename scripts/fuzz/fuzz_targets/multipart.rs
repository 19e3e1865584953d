//! An upload's multipart body, as the REST API and the upload page read it: every body is either
//! photos within the limits or a refusal with a reason, never a panic, a hang or more memory
//! than the limits allow. The input's first byte picks how the body arrives in chunks.
#![no_main]

// The very code the portal runs, without compiling the whole web crate for nightly.
#[path = "../../../app/src/upload.rs"]
mod upload;

use insectid::services::identify::UploadLimits;
use libfuzzer_sys::fuzz_target;

const BOUNDARY: &str = "fuzzboundary";

fuzz_target!(|data: &[u8]| {
    let Some((&chunking, body)) = data.split_first() else { return };
    let chunk = usize::from(chunking % 64) + 1;
    let limits = UploadLimits { max_files: 3, max_bytes: 4096 };
    let parts: Vec<Result<bytes::Bytes, std::io::Error>> =
        body.chunks(chunk).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let stream = futures::stream::iter(parts);
    let multipart = multer::Multipart::with_constraints(stream, BOUNDARY, upload::constraints(&limits));
    if let Ok(form) = futures::executor::block_on(upload::collect_uploads(multipart, limits)) {
        assert!(!form.files.is_empty() && form.files.len() <= limits.max_files);
        assert!(form.files.iter().all(|f| f.bytes.len() <= limits.max_bytes && !f.filename.is_empty()));
        assert!((1..=20).contains(&form.top_k));
    }
});
