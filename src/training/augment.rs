//! Training-time views of a photo: the photo itself, its mirror image, and random views
//! (random resized crop, flip, colour jitter) seeded per photo and view, so a rerun — or a
//! resumed job — computes exactly the same features.

use image::{DynamicImage, GenericImageView, Rgb, RgbImage};

/// Which view of a photo to compute features for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Plain,
    Mirrored,
    /// The prepared input mirrored (after resize and crop): exactly what the engine's
    /// test-time flip gives the model, where `Mirrored` may crop one pixel differently.
    InputMirrored,
    /// A random resized crop (8–100 % of the area, aspect 3:4–4:3), a coin-flip mirror and
    /// ±20 % brightness, contrast and saturation, drawn from this seed.
    Random(u64),
}

/// The views a fine-tune extracts: `count` 1 is the photos alone, 2 adds mirrors, more add
/// random views.
pub fn views(count: usize) -> Vec<View> {
    (0..count.max(1))
        .map(|i| match i {
            0 => View::Plain,
            1 => View::Mirrored,
            n => View::Random(n as u64),
        })
        .collect()
}

/// SplitMix64: small, seedable, good enough for augmentation draws.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next()
    }
}

/// The view of `image` (photo number `index`), ready for the model's usual preprocessing.
pub fn apply(image: DynamicImage, view: View, index: usize) -> DynamicImage {
    match view {
        View::Plain | View::InputMirrored => image,
        View::Mirrored => image.fliph(),
        View::Random(seed) => random_view(image, &mut Draw(seed.wrapping_mul(1_000_003).wrapping_add(index as u64))),
    }
}

fn random_view(image: DynamicImage, draw: &mut Draw) -> DynamicImage {
    let (w, h) = image.dimensions();
    let area = f64::from(w) * f64::from(h);
    // torchvision's RandomResizedCrop: ten tries at a crop that fits, else the whole photo.
    let mut crop = (0, 0, w, h);
    for _ in 0..10 {
        let target = area * draw.between(0.08, 1.0);
        let aspect = draw.between((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln()).exp();
        let (cw, ch) = ((target * aspect).sqrt().round() as u32, (target / aspect).sqrt().round() as u32);
        if cw > 0 && ch > 0 && cw <= w && ch <= h {
            let x = (draw.next() * f64::from(w - cw + 1)) as u32;
            let y = (draw.next() * f64::from(h - ch + 1)) as u32;
            crop = (x.min(w - cw), y.min(h - ch), cw, ch);
            break;
        }
    }
    let mut view = image.crop_imm(crop.0, crop.1, crop.2, crop.3);
    if draw.next() < 0.5 {
        view = view.fliph();
    }
    let (brightness, contrast, saturation) = (draw.between(0.8, 1.2), draw.between(0.8, 1.2), draw.between(0.8, 1.2));
    DynamicImage::ImageRgb8(jitter(&view.to_rgb8(), brightness as f32, contrast as f32, saturation as f32))
}

/// Colour jitter as torchvision does it: scale brightness, blend with the mean grey for
/// contrast, blend with each pixel's grey for saturation.
fn jitter(image: &RgbImage, brightness: f32, contrast: f32, saturation: f32) -> RgbImage {
    let grey = |p: &Rgb<u8>| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
    let pixels = (image.width() as f32 * image.height() as f32).max(1.0);
    let mean = image.pixels().map(grey).sum::<f32>() / pixels * brightness;
    let mut out = image.clone();
    for p in out.pixels_mut() {
        let bright = [f32::from(p[0]) * brightness, f32::from(p[1]) * brightness, f32::from(p[2]) * brightness];
        let contrasted = bright.map(|c| mean + (c - mean) * contrast);
        let g = 0.299 * contrasted[0] + 0.587 * contrasted[1] + 0.114 * contrasted[2];
        *p = Rgb(contrasted.map(|c| (g + (c - g) * saturation).round().clamp(0.0, 255.0) as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(120, 80, |x, y| Rgb([(x * 2) as u8, (y * 3) as u8, 90])))
    }

    #[test]
    fn random_views_are_reproducible_and_differ_between_seeds() {
        let a = apply(photo(), View::Random(2), 7).to_rgb8();
        assert_eq!(a, apply(photo(), View::Random(2), 7).to_rgb8());
        assert_ne!(a, apply(photo(), View::Random(3), 7).to_rgb8());
        assert_ne!(a, apply(photo(), View::Random(2), 8).to_rgb8());
    }

    #[test]
    fn a_random_view_stays_inside_the_photo() {
        for seed in 0..50 {
            let v = apply(photo(), View::Random(seed), 0);
            assert!(v.width() <= 120 && v.height() <= 80 && v.width() > 0 && v.height() > 0);
        }
    }

    #[test]
    fn neutral_jitter_keeps_the_pixels() {
        let img = photo().to_rgb8();
        assert_eq!(jitter(&img, 1.0, 1.0, 1.0), img);
        let darker = jitter(&img, 0.5, 1.0, 1.0);
        assert!(darker.get_pixel(100, 70)[0] < img.get_pixel(100, 70)[0]);
    }

    #[test]
    fn views_start_with_the_photo_and_its_mirror() {
        assert_eq!(views(1), vec![View::Plain]);
        assert_eq!(views(3), vec![View::Plain, View::Mirrored, View::Random(2)]);
    }
}
