//! Photo bytes → the normalised CHW float tensor a bundle's model takes.
//!
//! Steps, mirrored exactly by `scripts/export_default_model.py` for the reference fixtures:
//! decode (JPEGs at a reduced DCT scale when they are much larger than needed), apply the EXIF
//! orientation, composite transparency on white, cut the centred square covering
//! `input_size / resize_shorter` of the shorter side, resize it to `input_size` with torch's
//! antialiased bilinear filter, then normalise with the manifest's mean and std.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use tch::{Kind, Tensor};

use super::{InferenceError, Manifest};

/// Largest photo we accept: 64 megapixels covers every phone camera; beyond that is a bomb.
/// A JPEG that large is still cheap: it is decoded at a reduced DCT scale.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Most pixels one photo may decode to at full size (PNG, WebP, GIF, BMP, TIFF, or a JPEG
/// decoded whole): 50 megapixels, 200 MB as 8-bit RGBA.
pub const MAX_DECODED_PIXELS: u64 = 50_000_000;
/// Memory the decoder may allocate for one photo (below the decode budget's whole).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// The geometry and normalisation one model wants.
#[derive(Debug, Clone, Copy)]
pub struct Preprocessing {
    pub input_size: u32,
    pub resize_shorter: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl From<&Manifest> for Preprocessing {
    fn from(m: &Manifest) -> Self {
        Preprocessing { input_size: m.input_size, resize_shorter: m.resize_shorter, mean: m.mean, std: m.std }
    }
}

fn bad(e: impl std::fmt::Display) -> InferenceError {
    InferenceError::BadImage(e.to_string())
}

fn check_size(w: u32, h: u32) -> Result<(), InferenceError> {
    if w == 0 || h == 0 {
        return Err(bad("the image has no pixels"));
    }
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad(format!(
            "the image is {w}×{h} pixels; at most {} megapixels are accepted",
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

fn check_decoded(w: u32, h: u32) -> Result<(), InferenceError> {
    check_size(w, h)?;
    if u64::from(w) * u64::from(h) > MAX_DECODED_PIXELS {
        return Err(bad(format!(
            "the image is {w}×{h} pixels; at most {} megapixels are accepted in this format (a JPEG may be larger)",
            MAX_DECODED_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

/// What decoding a photo will produce, read from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
    /// Pixels the decoder will produce (fewer than width × height for a JPEG decoded at a
    /// reduced DCT scale).
    pub decoded_pixels: u64,
    /// Bytes the decoder's output buffer will take.
    pub decoded_bytes: u64,
}

/// Reads a photo's header and says how large its decoded pixels will be, refusing what
/// `decode` would refuse for its size. Nothing is decoded.
pub fn probe(bytes: &[u8], shorter_at_least: Option<u32>) -> Result<ImageSize, InferenceError> {
    let format = guess_format(bytes)?;
    if format == ImageFormat::Jpeg {
        if let Some(size) = probe_jpeg_scaled(bytes, shorter_at_least)? {
            return Ok(size);
        }
    }
    let decoder = ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(bad)?;
    let (width, height) = decoder.dimensions();
    check_decoded(width, height)?;
    let decoded_pixels = u64::from(width) * u64::from(height);
    // A GIF's header gives its screen; its first frame is decoded into a buffer of its own that
    // may be larger (up to the decoder's limit): charge half that limit on top, so GIF decodes
    // never run more than two at a time.
    let frame = if format == ImageFormat::Gif { MAX_DECODE_BYTES / 2 } else { 0 };
    Ok(ImageSize { width, height, decoded_pixels, decoded_bytes: decoder.total_bytes() + frame })
}

fn guess_format(bytes: &[u8]) -> Result<ImageFormat, InferenceError> {
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(bad)?;
    reader.format().ok_or_else(|| bad("not a supported image format (JPEG, PNG, WebP, GIF, BMP, TIFF)"))
}

/// The size a JPEG decodes to on the reduced-scale path, or None where it takes the full one.
fn probe_jpeg_scaled(bytes: &[u8], shorter_at_least: Option<u32>) -> Result<Option<ImageSize>, InferenceError> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(bad)?;
    let Some(info) = decoder.info() else { return Ok(None) };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width, height)?;
    let channels = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::L8 => 1,
        _ => return Ok(None),
    };
    let (w, h) = match shorter_at_least {
        Some(target) => scaled_dimensions(&mut decoder, width, height, target)?,
        None => (width, height),
    };
    if shorter_at_least.is_none() {
        check_decoded(w, h)?;
    }
    let decoded_pixels = u64::from(w) * u64::from(h);
    // A progressive JPEG keeps every DCT coefficient of the full-size image while it decodes
    // (two bytes each), whatever scale it is decoded at: charge them too.
    let coefficients = match info.coding_process {
        jpeg_decoder::CodingProcess::DctProgressive => u64::from(width) * u64::from(height) * channels * 2,
        _ => 0,
    };
    Ok(Some(ImageSize { width, height, decoded_pixels, decoded_bytes: decoded_pixels * channels + coefficients }))
}

/// Asks the JPEG decoder for the smallest DCT scale whose shorter side reaches `target`.
fn scaled_dimensions<R: std::io::Read>(
    decoder: &mut jpeg_decoder::Decoder<R>,
    w: u32,
    h: u32,
    target: u32,
) -> Result<(u32, u32), InferenceError> {
    let shorter = w.min(h);
    if shorter <= target {
        return Ok((w, h));
    }
    // The same scale on both axes, so the shorter side keeps at least `target`.
    let f = target as f64 / shorter as f64;
    let want = |v: u32| ((v as f64 * f).ceil() as u32).clamp(1, u32::from(u16::MAX)) as u16;
    let (sw, sh) = decoder.scale(want(w), want(h)).map_err(bad)?;
    Ok((u32::from(sw), u32::from(sh)))
}

/// Decodes an uploaded photo, refusing what is not an image or is too large to decode safely.
/// With `shorter_at_least`, a large JPEG is decoded at the smallest DCT scale (1/8 … 1) whose
/// shorter side still reaches that many pixels: a 12 MP photo then costs a fraction of a full
/// decode. Other formats are decoded whole, then reduced in 8-bit (area averaging) until the
/// shorter side is about twice that, before anything converts them to floats.
pub fn decode(bytes: &[u8], shorter_at_least: Option<u32>) -> Result<DynamicImage, InferenceError> {
    let format = guess_format(bytes)?;
    if format == ImageFormat::Jpeg {
        if let Some(target) = shorter_at_least {
            if let Some(image) = decode_jpeg_scaled(bytes, target)? {
                return Ok(image);
            }
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = decoder.dimensions();
    check_decoded(w, h)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(bad)?;
    if let Some(target) = shorter_at_least {
        image = reduce(image, target.saturating_mul(2));
    }
    image.apply_orientation(orientation);
    Ok(image)
}

/// Area-averages a large image down until its shorter side is `shorter` pixels, keeping its
/// pixel type; smaller images are returned as they are.
fn reduce(image: DynamicImage, shorter: u32) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    if shorter == 0 || w.min(h) <= shorter {
        return image;
    }
    let f = f64::from(shorter) / f64::from(w.min(h));
    let scaled = |v: u32| ((f64::from(v) * f).round() as u32).max(1);
    image.thumbnail_exact(scaled(w), scaled(h))
}

/// Reduced-scale JPEG decoding for 8-bit grey and RGB files; None for other colour types
/// (CMYK, 12-bit), which take the general path.
fn decode_jpeg_scaled(bytes: &[u8], target: u32) -> Result<Option<DynamicImage>, InferenceError> {
    use jpeg_decoder::PixelFormat;
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(MAX_DECODE_BYTES as usize);
    decoder.read_info().map_err(bad)?;
    let Some(info) = decoder.info() else { return Ok(None) };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    check_size(w, h)?;
    if !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8) {
        return Ok(None);
    }
    scaled_dimensions(&mut decoder, w, h, target)?;
    let pixels = decoder.decode().map_err(bad)?;
    let Some(info) = decoder.info() else { return Ok(None) };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let mut image = match info.pixel_format {
        PixelFormat::RGB24 => RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
        _ => image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
    }
    .ok_or_else(|| bad("the JPEG decoded to fewer pixels than it declares"))?;
    let orientation = decoder
        .exif_data()
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    image.apply_orientation(orientation);
    Ok(Some(image))
}

/// The centred square the model looks at, as RGB at the photo's own resolution.
pub fn crop_square(image: &DynamicImage, p: Preprocessing) -> RgbImage {
    let (w, h) = (image.width(), image.height());
    let shorter = w.min(h);
    let side = ((shorter as f64 * p.input_size as f64 / p.resize_shorter as f64).round() as u32).clamp(1, shorter);
    let square = image.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    flatten_to_rgb(&square)
}

/// Transparent pixels are composited on white, the way a viewer shows them.
fn flatten_to_rgb(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba32f();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let mix = |c: f32| ((c * a + (1.0 - a)) * 255.0).round().clamp(0.0, 255.0) as u8;
        image::Rgb([mix(r), mix(g), mix(b)])
    })
}

/// A square RGB crop → normalised CHW values at the model's input size.
pub fn resize_normalise(square: &RgbImage, p: Preprocessing) -> Result<Vec<f32>, InferenceError> {
    let side = square.width() as i64;
    let size = p.input_size as i64;
    let out = tch::no_grad(|| -> Result<Tensor, tch::TchError> {
        let hwc = Tensor::from_slice(square.as_raw()).view([side, side, 3]);
        let chw = hwc.permute([2, 0, 1]).to_kind(Kind::Float).unsqueeze(0) / 255.0;
        let resized = chw.f_internal_upsample_bilinear2d_aa([size, size], false, None, None)?;
        let mean = Tensor::from_slice(&p.mean).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&p.std).view([1, 3, 1, 1]);
        Ok(((resized - mean) / std).contiguous().view([-1]))
    })?;
    Ok(Vec::<f32>::try_from(&out)?)
}

/// A decoded photo → the model input.
pub fn model_input(image: &DynamicImage, p: Preprocessing) -> Result<Vec<f32>, InferenceError> {
    resize_normalise(&crop_square(image, p), p)
}

/// The whole path from uploaded bytes to the model input.
pub fn prepare(bytes: &[u8], p: Preprocessing) -> Result<Vec<f32>, InferenceError> {
    model_input(&decode(bytes, Some(p.resize_shorter))?, p)
}

#[cfg(test)]
mod tests;
