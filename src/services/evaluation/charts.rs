//! An evaluation's pictures: the confusion matrix and the reliability diagram (PNG).

use image::{Rgb, RgbImage};

use super::EvalReport;

/// The confusion matrix as a picture: one square per cell, white (none) to dark green (the
/// whole row), the diagonal outlined; the last column is "other".
pub fn render_confusion(report: &EvalReport) -> RgbImage {
    const CELL: u32 = 28;
    const PAD: u32 = 8;
    let rows = report.confusion.len() as u32;
    let cols = rows + 1;
    let mut img = RgbImage::from_pixel(PAD * 2 + cols * CELL, PAD * 2 + rows * CELL, Rgb([255, 255, 255]));
    for (r, row) in report.confusion.iter().enumerate() {
        let total: u32 = row.iter().sum::<u32>().max(1);
        for (c, &count) in row.iter().enumerate() {
            let f = count as f32 / total as f32;
            let shade = |full: u8| (255.0 - (255.0 - full as f32) * f).round() as u8;
            let colour = Rgb([shade(31), shade(110), shade(62)]);
            let (x0, y0) = (PAD + c as u32 * CELL, PAD + r as u32 * CELL);
            for y in y0..y0 + CELL {
                for x in x0..x0 + CELL {
                    let edge = x == x0 || y == y0 || x == x0 + CELL - 1 || y == y0 + CELL - 1;
                    let px = if edge && r == c {
                        Rgb([200, 40, 40])
                    } else if edge {
                        Rgb([225, 228, 224])
                    } else {
                        colour
                    };
                    img.put_pixel(x, y, px);
                }
            }
        }
    }
    img
}

/// The reliability diagram: per confidence bin, a bar of the accuracy reached (green) against
/// the diagonal a calibrated model would follow (grey line); empty bins are left blank.
pub fn render_reliability(report: &EvalReport) -> RgbImage {
    const W: u32 = 320;
    const H: u32 = 320;
    const PAD: u32 = 10;
    let mut img = RgbImage::from_pixel(W + 2 * PAD, H + 2 * PAD, Rgb([255, 255, 255]));
    let bar = W / 10;
    for (i, bin) in report.calibration.iter().enumerate() {
        if bin.count == 0 {
            continue;
        }
        let height = (bin.accuracy * H as f64).round() as u32;
        for x in PAD + i as u32 * bar + 2..PAD + (i as u32 + 1) * bar - 2 {
            for y in PAD + H - height..PAD + H {
                img.put_pixel(x, y, Rgb([47, 111, 62]));
            }
        }
    }
    for step in 0..W {
        let y = PAD + H - 1 - step * H / W;
        img.put_pixel(PAD + step, y, Rgb([150, 150, 150]));
    }
    img
}
