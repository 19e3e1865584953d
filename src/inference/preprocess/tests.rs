use super::*;
use image::{ImageFormat, Rgba, RgbaImage};

const P: Preprocessing = Preprocessing { input_size: 224, resize_shorter: 256, mean: [0.498; 3], std: [0.502; 3] };

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])))
}

#[test]
fn output_has_model_shape_and_range() {
    let v = prepare(&encode(&gradient(640, 480), ImageFormat::Png), P).unwrap();
    assert_eq!(v.len(), 3 * 224 * 224);
    let (lo, hi) = ((0.0 - 0.498) / 0.502, (1.0 - 0.498) / 0.502);
    assert!(v.iter().all(|x| *x >= lo - 1e-5 && *x <= hi + 1e-5));
}

#[test]
fn centre_crop_keeps_the_middle() {
    // Left and right thirds red, middle blue: the centred square is all blue.
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(900, 300, |x, _| {
        if (300..600).contains(&x) {
            image::Rgb([0, 0, 255])
        } else {
            image::Rgb([255, 0, 0])
        }
    }));
    let sq = crop_square(&img, P);
    assert_eq!(sq.dimensions(), (263, 263), "224/256 of the shorter side");
    assert!(sq.pixels().all(|p| p.0 == [0, 0, 255]));
}

#[test]
fn transparency_becomes_white() {
    let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 0])));
    assert!(crop_square(&img, P).pixels().all(|p| p.0 == [255, 255, 255]));
}

#[test]
fn grey_and_sixteen_bit_images_are_accepted() {
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(300, 200, image::Luma([77])));
    let v = prepare(&encode(&grey, ImageFormat::Png), P).unwrap();
    let expected = (77.0 / 255.0 - 0.498) / 0.502;
    assert!(v.iter().all(|x| (x - expected).abs() < 1e-5));
    let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(64, 64, image::Rgb([65535u16, 0, 0])));
    let v = prepare(&encode(&deep, ImageFormat::Png), P).unwrap();
    let red = (1.0 - 0.498) / 0.502;
    assert!((v[0] - red).abs() < 1e-5 && (v[224 * 224] - (-0.498 / 0.502)).abs() < 1e-5);
}

#[test]
fn exif_orientation_is_applied() {
    // A portrait photo stored landscape with orientation 6 (rotate 90° clockwise to view).
    let stored = DynamicImage::ImageRgb8(RgbImage::from_fn(400, 200, |x, _| {
        if x < 200 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    }));
    let mut jpeg = encode(&stored, ImageFormat::Jpeg);
    jpeg.splice(2..2, exif_orientation_segment(6));
    for scaled in [None, Some(100)] {
        let img = decode(&jpeg, scaled).unwrap();
        assert!(img.height() > img.width(), "rotated to portrait ({scaled:?})");
        let rgb = img.to_rgb8();
        // Clockwise rotation puts the stored left half (red) at the top.
        let top = rgb.get_pixel(rgb.width() / 2, 5).0;
        assert!(top[0] > 200 && top[2] < 60, "{top:?} ({scaled:?})");
    }
}

/// An APP1 segment holding a little-endian EXIF block with only the Orientation tag.
fn exif_orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

#[test]
fn large_jpegs_decode_at_reduced_scale_and_agree_with_full_decoding() {
    let photo = DynamicImage::ImageRgb8(RgbImage::from_fn(2400, 1800, |x, y| {
        let v = ((x as f32 / 40.0).sin() * 60.0 + (y as f32 / 25.0).cos() * 60.0 + 128.0) as u8;
        image::Rgb([v, 255 - v, ((x + y) / 20 % 256) as u8])
    }));
    let jpeg = encode(&photo, ImageFormat::Jpeg);
    let reduced = decode(&jpeg, Some(256)).unwrap();
    // 1/8 would leave 225 px on the shorter side, so 1/4 is the smallest scale that keeps 256.
    assert_eq!((reduced.width(), reduced.height()), (600, 450));
    let full = decode(&jpeg, None).unwrap();
    assert_eq!((full.width(), full.height()), (2400, 1800));
    let (a, b) = (model_input(&reduced, P).unwrap(), model_input(&full, P).unwrap());
    let diffs: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
    let worst = diffs.iter().copied().fold(0.0f32, f32::max);
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    // Within a few grey levels at worst and about one on average (another decoder, another IDCT).
    assert!(worst < 0.05 && mean < 0.01, "max {worst}, mean {mean}");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    assert!(matches!(prepare(&[], P), Err(InferenceError::BadImage(m)) if m.contains("empty")));
    assert!(
        matches!(prepare(b"hello, not an image", P), Err(InferenceError::BadImage(m)) if m.contains("not a supported"))
    );
    let png = encode(&gradient(100, 100), ImageFormat::Png);
    assert!(matches!(prepare(&png[..png.len() / 2], P), Err(InferenceError::BadImage(_))));
    let jpeg = encode(&gradient(300, 300), ImageFormat::Jpeg);
    assert!(matches!(prepare(&jpeg[..jpeg.len() / 2], P), Err(InferenceError::BadImage(_))));
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

#[test]
fn a_gif_is_charged_for_a_first_frame_larger_than_its_screen() {
    let gif = encode(&gradient(40, 30), ImageFormat::Gif);
    let size = probe(&gif, Some(256)).unwrap();
    assert_eq!((size.width, size.height), (40, 30));
    assert!(size.decoded_bytes >= 128 * 1024 * 1024, "{size:?}");
    let png = encode(&gradient(40, 30), ImageFormat::Png);
    assert!(probe(&png, Some(256)).unwrap().decoded_bytes < 1024 * 1024);
}
