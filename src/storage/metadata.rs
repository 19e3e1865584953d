//! What a photo tells beyond its pixels. Phones write the place (GPS), the time, the device
//! and sometimes the owner's name into a photo; the portal keeps the original (its digest is
//! its identity) but serves and exports only a copy without any of that. The orientation is
//! kept, since without it a portrait photo would show on its side.

use std::borrow::Cow;

/// The photo's bytes without personal metadata: JPEG EXIF (all but the orientation), XMP,
/// IPTC, comments and anything after the image (MPF pictures, motion-photo videos); PNG text,
/// time and EXIF chunks and anything after IEND; WebP EXIF and XMP chunks; TIFF files are
/// written anew from their pixels. Formats without such metadata (GIF, BMP) are returned as
/// they are. It fails closed: a file that does not parse as it claims is written anew from its
/// pixels as PNG, and one that cannot be is refused, never passed on with its metadata.
pub fn strip_private(bytes: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let stripped = if bytes.starts_with(&[0xFF, 0xD8]) {
        strip_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        strip_png(bytes)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        strip_webp(bytes)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        rewrite(bytes, image::ImageFormat::Tiff)
    } else {
        return Ok(Cow::Borrowed(bytes));
    };
    match stripped.or_else(|| rewrite(bytes, image::ImageFormat::Png)) {
        Some(clean) => Ok(Cow::Owned(clean)),
        None => Err("the photo cannot be read well enough to remove its metadata".into()),
    }
}

/// Whether [`strip_private`] decodes the whole photo for it (a TIFF), and so needs room in the
/// decode budget.
pub fn strip_decodes(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
}

/// JPEG: every segment before the scan is copied except APP1 (EXIF, XMP), APP3–APP13, APP15
/// and comments; an EXIF orientation comes back as a minimal EXIF segment of its own.
fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut i = 2;
    loop {
        // Fill bytes before a marker.
        while i + 1 < bytes.len() && bytes[i] == 0xFF && bytes[i + 1] == 0xFF {
            i += 1;
        }
        if i + 4 > bytes.len() || bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Some(out);
        }
        if marker == 0xDA {
            // The scans up to the end of the image; what follows it (an MPF picture with its
            // own EXIF, a motion photo's video) is not part of the photo and goes. In scan data
            // 0xFF is always followed by 0x00 or a marker, so the first FF D9 is the end.
            let end = bytes[i..].windows(2).position(|w| w == [0xFF, 0xD9]).map(|p| i + p + 2)?;
            out.extend_from_slice(&bytes[i..end]);
            return Some(out);
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            out.extend_from_slice(&bytes[i..i + 2]);
            i += 2;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let end = i + 2 + length;
        if length < 2 || end > bytes.len() {
            return None;
        }
        let payload = &bytes[i + 4..end];
        match marker {
            0xE1 => {
                if let Some(segment) = payload.strip_prefix(b"Exif\0\0").and_then(orientation_segment) {
                    out.extend_from_slice(&segment);
                }
            }
            0xE3..=0xED | 0xEF | 0xFE => {}
            _ => out.extend_from_slice(&bytes[i..end]),
        }
        i = end;
    }
}

/// A minimal APP1 EXIF segment holding only the orientation found in `tiff`, if any.
fn orientation_segment(tiff: &[u8]) -> Option<Vec<u8>> {
    let orientation = image::metadata::Orientation::from_exif_chunk(tiff)?;
    let value = u16::from(orientation.to_exif());
    if value == 1 {
        return None;
    }
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // one value
    exif.extend_from_slice(&value.to_be_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&u16::try_from(exif.len() + 2).ok()?.to_be_bytes());
    segment.extend_from_slice(&exif);
    Some(segment)
}

/// PNG: every chunk is copied except text (tEXt, zTXt, iTXt), EXIF (eXIf) and time (tIME).
fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes[..8].to_vec();
    let mut i = 8;
    while i < bytes.len() {
        let length = usize::try_from(u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?)).ok()?;
        let end = i.checked_add(12)?.checked_add(length)?;
        let kind = bytes.get(i + 4..i + 8)?;
        if end > bytes.len() {
            return None;
        }
        if !matches!(kind, b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME") {
            out.extend_from_slice(&bytes[i..end]);
        }
        if kind == b"IEND" {
            // Nothing after the end is part of the image.
            return Some(out);
        }
        i = end;
    }
    Some(out)
}

/// WebP: the EXIF and XMP chunks go, and the extended header stops announcing them.
fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes[..12].to_vec();
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let kind = &bytes[i..i + 4];
        let size = usize::try_from(u32::from_le_bytes(bytes[i + 4..i + 8].try_into().ok()?)).ok()?;
        let end = (i + 8).checked_add(size)?.checked_add(size % 2)?.min(bytes.len());
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" if end >= i + 9 => {
                let mut chunk = bytes[i..end].to_vec();
                chunk[8] &= !(0x08 | 0x04); // the EXIF and XMP flags
                out.extend_from_slice(&chunk);
            }
            _ => out.extend_from_slice(&bytes[i..end]),
        }
        i = end;
    }
    let riff_size = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Some(out)
}

/// The photo written anew from its pixels (TIFF keeps its metadata in the same directories as
/// its pixels; a file that does not parse as it claims is written as PNG).
fn rewrite(bytes: &[u8], format: image::ImageFormat) -> Option<Vec<u8>> {
    let image = crate::inference::preprocess::decode(bytes, None).ok()?;
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).ok()?;
    Some(out.into_inner())
}

/// When and where a photo says it was taken, for its owner's eyes only.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PhotoContext {
    /// "YYYY-MM-DD HH:MM:SS" by the camera's clock (EXIF records no time zone).
    pub taken_at: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Reads the date taken and the GPS position from a photo's EXIF (JPEG, PNG, WebP, TIFF);
/// nothing for a photo without them or with values out of range.
pub fn read_context(bytes: &[u8]) -> PhotoContext {
    use exif::{In, Tag, Value};
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return PhotoContext::default();
    };
    let ascii = |tag: Tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(parts)) => parts.first().cloned(),
        _ => None,
    };
    let taken_at = ascii(Tag::DateTimeOriginal).or_else(|| ascii(Tag::DateTime)).and_then(|raw| {
        let t = exif::DateTime::from_ascii(&raw).ok()?;
        Some(format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second))
    });
    let coordinate = |tag: Tag, hemisphere: Tag, negative: u8, limit: f64| {
        let Some(Value::Rational(parts)) = exif.get_field(tag, In::PRIMARY).map(|f| &f.value) else { return None };
        let [d, m, s] = parts.get(..3)? else { return None };
        let degrees = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
        let sign = if ascii(hemisphere).and_then(|h| h.first().copied()) == Some(negative) { -1.0 } else { 1.0 };
        (degrees.is_finite() && degrees <= limit).then_some(sign * degrees)
    };
    PhotoContext {
        taken_at,
        latitude: coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S', 90.0),
        longitude: coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W', 180.0),
    }
}

#[cfg(test)]
mod tests;
