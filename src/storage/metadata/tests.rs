use super::*;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 32, |x, y| image::Rgb([(x * 4) as u8, (y * 8) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A big-endian EXIF block: orientation 6 and a GPS directory placing the photo at 48°N.
fn exif_with_gps() -> Vec<u8> {
    let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
    t.extend_from_slice(&2u16.to_be_bytes());
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation = 6
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD at 38
    t.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD: GPSLatitudeRef "N", GPSLatitude 48/1 0/1 0/1 (rationals at 68).
    t.extend_from_slice(&2u16.to_be_bytes());
    t.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 68]);
    t.extend_from_slice(&0u32.to_be_bytes());
    for (n, d) in [(48u32, 1u32), (0, 1), (0, 1)] {
        t.extend_from_slice(&n.to_be_bytes());
        t.extend_from_slice(&d.to_be_bytes());
    }
    t
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    s.extend_from_slice(payload);
    s
}

#[test]
fn a_jpeg_loses_its_place_and_comments_but_keeps_its_orientation_and_pixels() {
    let plain = encoded(image::ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_with_gps());
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>48,0N</exif:GPSLatitude></x:xmpmeta>";
    let mut photo = plain[..2].to_vec();
    photo.extend(segment(0xE1, &exif));
    photo.extend(segment(0xE1, xmp));
    photo.extend(segment(0xFE, b"taken by Ann Example"));
    photo.extend_from_slice(&plain[2..]);

    let served = strip_private(&photo).unwrap();
    assert!(served.len() < photo.len());
    let text = String::from_utf8_lossy(&served);
    assert!(!text.contains("GPSLatitude") && !text.contains("Ann Example"), "XMP and comments are gone");
    let reader = jpeg_decoder::Decoder::new(std::io::Cursor::new(&served[..]));
    let mut reader = reader;
    reader.read_info().unwrap();
    let kept = reader.exif_data().expect("a minimal EXIF stays");
    assert_eq!(image::metadata::Orientation::from_exif_chunk(kept).map(|o| o.to_exif()), Some(6));
    assert!(!kept.windows(8).any(|w| w == [0, 0, 0, 48, 0, 0, 0, 1]), "no GPS values");
    assert!(!kept.windows(2).any(|w| w == [0x88, 0x25]), "no GPS directory");
    let before = image::load_from_memory(&photo).unwrap().to_rgb8();
    let after = image::load_from_memory(&served).unwrap().to_rgb8();
    assert_eq!(before, after, "the same pixels");
}

#[test]
fn a_png_loses_its_text_and_exif_chunks() {
    let plain = encoded(image::ImageFormat::Png);
    let iend = plain.len() - 12;
    let mut photo = plain[..iend].to_vec();
    for (kind, data) in [(&b"tEXt"[..], &b"Location\0Field 7, north corner"[..]), (b"eXIf", &exif_with_gps()[..])] {
        photo.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        photo.extend_from_slice(&body);
        photo.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    photo.extend_from_slice(&plain[iend..]);
    let served = strip_private(&photo).unwrap();
    assert_eq!(&served[..], &plain[..], "exactly the PNG without those chunks");
}

#[test]
fn a_webp_loses_its_exif_chunk_and_flag() {
    let plain = encoded(image::ImageFormat::WebP);
    // The extended format: VP8X announcing EXIF, then the image, then the EXIF chunk.
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(b"VP8X");
    body.extend_from_slice(&10u32.to_le_bytes());
    body.extend_from_slice(&[0x08, 0, 0, 0, 63, 0, 0, 31, 0, 0]);
    body.extend_from_slice(&plain[12..]);
    let exif = exif_with_gps();
    body.extend_from_slice(b"EXIF");
    body.extend_from_slice(&u32::try_from(exif.len()).unwrap().to_le_bytes());
    body.extend_from_slice(&exif);
    let mut photo = b"RIFF".to_vec();
    photo.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    photo.extend_from_slice(&body);
    let served = strip_private(&photo).unwrap();
    assert!(!served.windows(4).any(|w| w == b"EXIF"), "the chunk is gone");
    assert_eq!(served[20] & 0x08, 0, "VP8X no longer announces EXIF");
    assert_eq!(u32::from_le_bytes(served[4..8].try_into().unwrap()) as usize, served.len() - 8);
    let before = image::load_from_memory(&photo).unwrap().to_rgb8();
    assert_eq!(before, image::load_from_memory(&served).unwrap().to_rgb8(), "the same pixels");
}

#[test]
fn other_formats_pass_and_broken_files_are_refused() {
    let gif = encoded(image::ImageFormat::Gif);
    assert!(matches!(strip_private(&gif), Ok(Cow::Borrowed(_))));
    assert!(strip_private(b"\xFF\xD8\xFF").is_err(), "never passed on unread");
}

#[test]
fn what_follows_a_jpeg_or_a_png_goes() {
    let jpeg = encoded(image::ImageFormat::Jpeg);
    let mut with_video = jpeg.clone();
    with_video.extend_from_slice(b"ftypmp42 ... a motion photo's video with its GPS track");
    assert_eq!(&strip_private(&with_video).unwrap()[..], &jpeg[..]);
    let png = encoded(image::ImageFormat::Png);
    let mut trailing = png.clone();
    trailing.extend_from_slice(b"GPS 48.1253 7.5253 and no chunk structure");
    assert_eq!(&strip_private(&trailing).unwrap()[..], &png[..]);
}

#[test]
fn the_date_and_place_are_read_for_the_owner() {
    let plain = encoded(image::ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_with_gps());
    let mut photo = plain[..2].to_vec();
    photo.extend(segment(0xE1, &exif));
    photo.extend_from_slice(&plain[2..]);
    let context = read_context(&photo);
    assert_eq!(context.latitude, Some(48.0));
    assert_eq!(context.longitude, None, "no longitude recorded");
    assert_eq!(read_context(&plain), PhotoContext::default(), "a photo without EXIF says nothing");
    assert_eq!(read_context(&strip_private(&photo).unwrap()).latitude, None, "the served copy has no place");
}
