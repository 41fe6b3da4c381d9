//! `T` typography images (the key phrase in large type, MM-SafetyBench style: black on white,
//! 1024 px wide, as tall as the text needs) and `IT` composites (an image with its typography band
//! beneath).

use super::canvas::{line_height, Canvas};
use super::font::{FontError, Fonts};
use super::wrap::wrap;
use image::RgbImage;

/// How a typography image is laid out. The defaults follow MM-SafetyBench's style: 90 px black
/// text on white, 1024 px wide.
#[derive(Debug, Clone)]
pub struct TypoOptions {
    /// Image width in px (default 1024).
    pub width: u32,
    /// Font size in CSS pixels (default 90, as MM-SafetyBench).
    pub px: f32,
    /// Blank space around the text on every side, in px (default 40).
    pub margin: u32,
    /// Use the bold face (default true).
    pub bold: bool,
    /// Smallest font size in px the text may shrink to when it would exceed `max_lines` (default
    /// 48).
    pub min_px: f32,
    /// The most lines before the font size shrinks, 6 px at a time down to `min_px` (default 4); at
    /// `min_px` the text keeps every line it needs.
    pub max_lines: usize,
    /// Text colour, RGB (default black).
    pub fg: [u8; 3],
    /// Background colour, RGB (default white).
    pub bg: [u8; 3],
}

impl Default for TypoOptions {
    fn default() -> Self {
        TypoOptions {
            width: 1024,
            px: 90.0,
            margin: 40,
            bold: true,
            min_px: 48.0,
            max_lines: 4,
            fg: [0, 0, 0],
            bg: [255, 255, 255],
        }
    }
}

/// Render `text` as a typography image.
pub fn typography(fonts: &Fonts, text: &str, o: &TypoOptions) -> Result<RgbImage, FontError> {
    fonts.check_ink(text, o.bold)?;
    let font = fonts.face(o.bold);
    let max_w = (o.width - 2 * o.margin) as f32;
    let mut px = o.px;
    let mut lines = wrap(font, px, text, max_w);
    while lines.len() > o.max_lines && px > o.min_px {
        px = (px - 6.0).max(o.min_px);
        lines = wrap(font, px, text, max_w);
    }
    let lh = line_height(font, px);
    let h = (lines.len() as f32 * lh).ceil() as u32 + 2 * o.margin;
    let mut c = Canvas::new(o.width, h, o.bg);
    for (i, l) in lines.iter().enumerate() {
        c.text(
            font,
            px,
            o.margin as f32,
            o.margin as f32 + i as f32 * lh,
            l,
            o.fg,
        );
    }
    Ok(c.img)
}

/// Stack `top` (resized to the typography width if needed) over the typography of `text`.
pub fn composite(
    fonts: &Fonts,
    top: &RgbImage,
    text: &str,
    o: &TypoOptions,
) -> Result<RgbImage, FontError> {
    let band = typography(fonts, text, o)?;
    let top = if top.width() == o.width {
        top.clone()
    } else {
        let h = ((top.height() as f64) * (o.width as f64) / (top.width() as f64))
            .round()
            .max(1.0) as u32;
        image::imageops::resize(top, o.width, h, image::imageops::FilterType::Triangle)
    };
    let mut out = RgbImage::from_pixel(o.width, top.height() + band.height(), image::Rgb(o.bg));
    image::imageops::replace(&mut out, &top, 0, 0);
    image::imageops::replace(&mut out, &band, 0, top.height() as i64);
    Ok(out)
}
