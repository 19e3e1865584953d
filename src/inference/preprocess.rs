//! Photo bytes → the normalised CHW float tensor a bundle's model takes.
//!
//! The geometry matches the export script's reference: EXIF orientation applied, the centred
//! square covering `input_size / resize_shorter` of the shorter side cut out, then resized to
//! `input_size` (the same pixels as "resize the shorter side, then centre-crop", in one pass).

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::{InferenceError, Manifest};

/// Largest photo we decode: 64 megapixels covers every phone camera; beyond that is a bomb.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Memory the decoder may allocate for one photo.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

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

/// Decodes an uploaded photo, refusing what is not an image or is too large to decode safely.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, InferenceError> {
    if bytes.is_empty() {
        return Err(InferenceError::BadImage("the file is empty".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| InferenceError::BadImage(e.to_string()))?;
    if reader.format().is_none() {
        return Err(InferenceError::BadImage(
            "not a supported image format (JPEG, PNG, WebP, GIF, BMP, TIFF)".into(),
        ));
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| InferenceError::BadImage(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(InferenceError::BadImage("the image has no pixels".into()));
    }
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(InferenceError::BadImage(format!(
            "the image is {w}×{h} pixels; at most {} megapixels are accepted",
            MAX_PIXELS / 1_000_000
        )));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| InferenceError::BadImage(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Cuts and scales a decoded photo to the model's square input, as RGB.
pub fn to_model_square(image: &DynamicImage, p: Preprocessing) -> RgbImage {
    let (w, h) = (image.width(), image.height());
    let shorter = w.min(h) as f64;
    let side = ((shorter * p.input_size as f64 / p.resize_shorter as f64).round() as u32).clamp(1, w.min(h));
    let x = (w - side) / 2;
    let y = (h - side) / 2;
    let square = image.crop_imm(x, y, side, side);
    let rgb = flatten_to_rgb(&square);
    image::imageops::resize(&rgb, p.input_size, p.input_size, FilterType::Triangle)
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

/// RGB pixels → normalised values in CHW order.
pub fn to_chw(rgb: &RgbImage, p: Preprocessing) -> Vec<f32> {
    let plane = (rgb.width() * rgb.height()) as usize;
    let mut out = vec![0f32; plane * 3];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px.0[c] as f32 / 255.0 - p.mean[c]) / p.std[c];
        }
    }
    out
}

/// The whole path from uploaded bytes to the model input.
pub fn prepare(bytes: &[u8], p: Preprocessing) -> Result<Vec<f32>, InferenceError> {
    let image = decode(bytes)?;
    Ok(to_chw(&to_model_square(&image, p), p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba, RgbaImage};

    const P: Preprocessing =
        Preprocessing { input_size: 224, resize_shorter: 256, mean: [0.498; 3], std: [0.502; 3] };

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn output_has_model_shape_and_range() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])));
        let v = prepare(&encode(&img, ImageFormat::Png), P).unwrap();
        assert_eq!(v.len(), 3 * 224 * 224);
        let (lo, hi) = ((0.0 - 0.498) / 0.502, (1.0 - 0.498) / 0.502);
        assert!(v.iter().all(|x| *x >= lo - 1e-5 && *x <= hi + 1e-5));
    }

    #[test]
    fn centre_crop_keeps_the_middle() {
        // Left and right thirds red, middle blue: the centred square is all blue.
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(900, 300, |x, _| {
            if (300..600).contains(&x) { image::Rgb([0, 0, 255]) } else { image::Rgb([255, 0, 0]) }
        }));
        let sq = to_model_square(&img, P);
        assert!(sq.pixels().all(|p| p.0 == [0, 0, 255]));
    }

    #[test]
    fn transparency_becomes_white() {
        let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 0])));
        let sq = to_model_square(&img, P);
        assert!(sq.pixels().all(|p| p.0 == [255, 255, 255]));
    }

    #[test]
    fn grey_and_sixteen_bit_images_are_accepted() {
        let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(300, 200, image::Luma([77])));
        let v = prepare(&encode(&grey, ImageFormat::Png), P).unwrap();
        let expected = (77.0 / 255.0 - 0.498) / 0.502;
        assert!(v.iter().all(|x| (x - expected).abs() < 1e-5));
        let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(64, 64, image::Rgb([65535u16, 0, 0])));
        assert_eq!(prepare(&encode(&deep, ImageFormat::Png), P).unwrap().len(), 3 * 224 * 224);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(matches!(prepare(&[], P), Err(InferenceError::BadImage(m)) if m.contains("empty")));
        assert!(matches!(prepare(b"hello, not an image", P), Err(InferenceError::BadImage(m)) if m.contains("not a supported")));
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 100, image::Rgb([1, 2, 3])));
        let png = encode(&img, ImageFormat::Png);
        assert!(matches!(prepare(&png[..png.len() / 2], P), Err(InferenceError::BadImage(_))));
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        // A BMP header claiming 20 000 × 20 000 pixels (400 megapixels) and no pixel data behind it.
        let mut bmp = Vec::new();
        bmp.extend_from_slice(b"BM");
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&[0; 4]);
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&20_000i32.to_le_bytes());
        bmp.extend_from_slice(&20_000i32.to_le_bytes());
        bmp.extend_from_slice(&1u16.to_le_bytes());
        bmp.extend_from_slice(&24u16.to_le_bytes());
        bmp.extend_from_slice(&[0; 24]);
        let err = prepare(&bmp, P).unwrap_err();
        assert!(matches!(&err, InferenceError::BadImage(m) if m.contains("megapixels")), "{err}");
    }
}
