//! Reading uploaded photos from a multipart body, shared by the REST API and the pages' server
//! function so both apply the same limits and say the same things about bad input.

use std::sync::Arc;

use insectid::services::identify::UploadLimits;

pub struct Upload {
    pub filename: String,
    pub bytes: Arc<[u8]>,
}

pub struct UploadForm {
    pub files: Vec<Upload>,
    pub top_k: usize,
    /// When and where, as the uploading device says (for photos whose EXIF does not).
    pub context: insectid::storage::metadata::PhotoContext,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
}

impl UploadError {
    pub fn kind(&self) -> insectid::error::ErrorKind {
        use insectid::error::ErrorKind;
        match self {
            UploadError::BadRequest(_) => ErrorKind::InvalidInput,
            UploadError::TooLarge(_) => ErrorKind::TooLarge,
            UploadError::UnsupportedType(_) => ErrorKind::UnsupportedMediaType,
        }
    }
}

/// Optional text fields: the answer's length and the device's date and place.
pub const TEXT_FIELDS: [&str; 4] = ["top_k", "taken_at", "latitude", "longitude"];

/// Field names that carry photos; anything else but [`TEXT_FIELDS`] is refused.
pub const FILE_FIELDS: [&str; 3] = ["image", "images", "file"];

/// Multer's own limits bound memory even before our per-file checks run.
pub fn constraints(limits: &UploadLimits) -> multer::Constraints {
    multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream((limits.max_files * limits.max_bytes + 64 * 1024) as u64)
            .per_field(limits.max_bytes as u64 + 1),
    )
}

/// Most bytes a form field that is read into memory (not a photo or an archive) may hold:
/// `top_k`, a dataset's name. A longer part is refused while it arrives, never buffered.
pub const MAX_SMALL_FIELD_BYTES: usize = 1024;

/// True when the body ended because the route's body limit was reached (tower-http's limit
/// wraps the body; multer reports it as a failed read).
fn hit_body_limit(e: &multer::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        source = err.source();
    }
    false
}

/// Reads a small text field, refusing it once it passes `max` bytes.
pub async fn small_field(field: &mut multer::Field<'_>, max: usize) -> Result<String, UploadError> {
    let name = field.name().unwrap_or("a field").to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| from_multer(e, &UploadLimits::default()))? {
        if bytes.len() + chunk.len() > max {
            return Err(UploadError::TooLarge(format!("the field {name:?} may hold at most {max} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| UploadError::BadRequest(format!("the field {name:?} is not UTF-8 text")))
}

fn from_multer(e: multer::Error, limits: &UploadLimits) -> UploadError {
    if hit_body_limit(&e) {
        return UploadError::TooLarge(format!(
            "the upload is too large: at most {} photos of {} MB each",
            limits.max_files,
            limits.max_bytes / (1024 * 1024)
        ));
    }
    match e {
        multer::Error::StreamSizeExceeded { .. } => UploadError::TooLarge(format!(
            "the upload is too large: at most {} photos of {} MB each",
            limits.max_files,
            limits.max_bytes / (1024 * 1024)
        )),
        multer::Error::FieldSizeExceeded { field_name, .. } => UploadError::TooLarge(format!(
            "{}: larger than {} MB, the most one photo may be",
            field_name.unwrap_or_else(|| "a file".into()),
            limits.max_bytes / (1024 * 1024)
        )),
        other => UploadError::BadRequest(format!("malformed multipart request: {other}")),
    }
}

pub async fn collect_uploads(
    mut multipart: multer::Multipart<'_>,
    limits: UploadLimits,
) -> Result<UploadForm, UploadError> {
    let mut files: Vec<Upload> = Vec::new();
    let mut top_k = 5usize;
    // taken_at, latitude, longitude as sent ("" when not).
    let mut given = [String::new(), String::new(), String::new()];
    while let Some(mut field) = multipart.next_field().await.map_err(|e| from_multer(e, &limits))? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(i) = TEXT_FIELDS.iter().position(|f| *f == name) {
            let text = small_field(&mut field, 64).await?;
            if i == 0 {
                top_k = text.trim().parse::<usize>().ok().filter(|k| (1..=20).contains(k)).ok_or_else(|| {
                    UploadError::BadRequest(format!("top_k must be a number from 1 to 20, not {text:?}"))
                })?;
            } else {
                given[i - 1] = text;
            }
            continue;
        }
        if !FILE_FIELDS.contains(&name.as_str()) {
            return Err(UploadError::BadRequest(format!(
                "unexpected form field {name:?}; send photos in fields named \"image\" (and optionally \"top_k\", \"taken_at\", \"latitude\", \"longitude\")"
            )));
        }
        let filename = field.file_name().map(str::to_string).unwrap_or_else(|| format!("file {}", files.len() + 1));
        // A browser sends an empty file part when the picker was left empty.
        if filename.is_empty() {
            continue;
        }
        if files.len() == limits.max_files {
            return Err(UploadError::BadRequest(format!(
                "too many files: at most {} photos per request",
                limits.max_files
            )));
        }
        if let Some(ct) = field.content_type().map(|m| m.essence_str().to_string()) {
            if !(ct.starts_with("image/") || ct == "application/octet-stream") {
                return Err(UploadError::UnsupportedType(format!(
                    "{filename}: content type {ct} is not an image (JPEG, PNG, WebP, GIF, BMP or TIFF)"
                )));
            }
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| match from_multer(e, &limits) {
            UploadError::TooLarge(_) => UploadError::TooLarge(format!(
                "{filename}: larger than {} MB, the most one photo may be",
                limits.max_bytes / (1024 * 1024)
            )),
            other => other,
        })? {
            if bytes.len() + chunk.len() > limits.max_bytes {
                return Err(UploadError::TooLarge(format!(
                    "{filename}: larger than {} MB, the most one photo may be",
                    limits.max_bytes / (1024 * 1024)
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push(Upload { filename, bytes: bytes.into() });
    }
    if files.is_empty() {
        return Err(UploadError::BadRequest(
            "no photo in the request: send one or more files in a field named \"image\"".into(),
        ));
    }
    let [taken_at, latitude, longitude] = &given;
    let context = insectid::services::observation::parse_context(taken_at, latitude, longitude)
        .map_err(|e| UploadError::BadRequest(e.to_string()))?;
    Ok(UploadForm { files, top_k, context })
}
