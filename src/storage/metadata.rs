//! What a photo tells beyond its pixels. Phones write the place (GPS), the time, the device
//! and sometimes the owner's name into a photo; the portal keeps the original (its digest is
//! its identity) but serves and exports only a copy without any of that. The orientation is
//! kept, since without it a portrait photo would show on its side.

use std::borrow::Cow;

/// The photo's bytes without personal metadata: JPEG EXIF (all but the orientation), XMP,
/// IPTC and comments; PNG text, time and EXIF chunks; WebP EXIF and XMP chunks; TIFF files are
/// written anew from their pixels. Formats without such metadata (GIF, BMP) and files that do
/// not parse as they claim are returned unchanged; they were decodable when uploaded.
pub fn strip_private(bytes: &[u8]) -> Cow<'_, [u8]> {
    let stripped = if bytes.starts_with(&[0xFF, 0xD8]) {
        strip_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        strip_png(bytes)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        strip_webp(bytes)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        rewrite_tiff(bytes)
    } else {
        None
    };
    stripped.map(Cow::Owned).unwrap_or(Cow::Borrowed(bytes))
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
        if marker == 0xDA || marker == 0xD9 {
            // The scan (or the end): the rest is image data.
            out.extend_from_slice(&bytes[i..]);
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

/// TIFF keeps its metadata in the same directories as its pixels: the copy is written anew.
fn rewrite_tiff(bytes: &[u8]) -> Option<Vec<u8>> {
    let image = crate::inference::preprocess::decode(bytes, None).ok()?;
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Tiff).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests;
