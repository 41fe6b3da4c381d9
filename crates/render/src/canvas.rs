//! An RGB canvas with the few drawing primitives the cards need, and text drawing on ab_glyph.

use super::font::px_scale;
use ab_glyph::{point, Font, FontArc, ScaleFont};
use image::{Rgb, RgbImage};

/// An RGB colour, `[r, g, b]`.
pub type Color = [u8; 3];

/// The colour of a `0xRRGGBB` value (the top byte is ignored).
pub fn hex(c: u32) -> Color {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

/// An RGB image to draw on. Coordinates are in px from the top-left; drawing outside the image
/// is clipped.
pub struct Canvas {
    /// The pixels drawn so far.
    pub img: RgbImage,
}

impl Canvas {
    /// A `w` × `h` px canvas filled with `bg`.
    pub fn new(w: u32, h: u32, bg: Color) -> Canvas {
        Canvas {
            img: RgbImage::from_pixel(w, h, Rgb(bg)),
        }
    }

    /// The width in px.
    pub fn width(&self) -> i32 {
        self.img.width() as i32
    }
    /// The height in px.
    pub fn height(&self) -> i32 {
        self.img.height() as i32
    }

    #[inline]
    fn blend(&mut self, x: i32, y: i32, c: Color, a: f32) {
        if x < 0 || y < 0 || x >= self.width() || y >= self.height() || a <= 0.0 {
            return;
        }
        let a = a.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (dst, src) in p.0.iter_mut().zip(c) {
            *dst = (*dst as f32 * (1.0 - a) + src as f32 * a).round() as u8;
        }
    }

    /// Fill the `w` × `h` px rectangle whose top-left corner is (x, y).
    pub fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, c: Color) {
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = ((x + w).min(self.width()), (y + h).min(self.height()));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.img.put_pixel(xx as u32, yy as u32, Rgb(c));
            }
        }
    }

    /// A rounded rectangle with anti-aliased corners.
    pub fn round_rect(&mut self, x: i32, y: i32, w: i32, h: i32, r: i32, c: Color) {
        let r = r.min(w / 2).min(h / 2).max(0) as f32;
        for yy in y.max(0)..(y + h).min(self.height()) {
            for xx in x.max(0)..(x + w).min(self.width()) {
                let px = xx as f32 + 0.5;
                let py = yy as f32 + 0.5;
                let cx = px.clamp(x as f32 + r, (x + w) as f32 - r);
                let cy = py.clamp(y as f32 + r, (y + h) as f32 - r);
                let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
                let a = (r - d + 0.5).clamp(0.0, 1.0);
                if r == 0.0 || a >= 1.0 {
                    self.img.put_pixel(xx as u32, yy as u32, Rgb(c));
                } else {
                    self.blend(xx, yy, c, a);
                }
            }
        }
    }

    /// A rectangle outline of thickness `t`.
    pub fn frame(&mut self, x: i32, y: i32, w: i32, h: i32, t: i32, c: Color) {
        self.rect(x, y, w, t, c);
        self.rect(x, y + h - t, w, t, c);
        self.rect(x, y, t, h, c);
        self.rect(x + w - t, y, t, h, c);
    }

    /// An anti-aliased filled circle of radius `r` px centred on (cx, cy).
    pub fn circle(&mut self, cx: i32, cy: i32, r: i32, c: Color) {
        let rf = r as f32;
        for yy in (cy - r - 1).max(0)..(cy + r + 1).min(self.height()) {
            for xx in (cx - r - 1).max(0)..(cx + r + 1).min(self.width()) {
                let d = ((xx as f32 + 0.5 - cx as f32).powi(2)
                    + (yy as f32 + 0.5 - cy as f32).powi(2))
                .sqrt();
                self.blend(xx, yy, c, (rf - d + 0.5).clamp(0.0, 1.0));
            }
        }
    }

    /// A ring (circle outline) of thickness `t`.
    pub fn ring(&mut self, cx: i32, cy: i32, r: i32, t: i32, c: Color) {
        let (ro, ri) = (r as f32, (r - t) as f32);
        for yy in (cy - r - 1).max(0)..(cy + r + 1).min(self.height()) {
            for xx in (cx - r - 1).max(0)..(cx + r + 1).min(self.width()) {
                let d = ((xx as f32 + 0.5 - cx as f32).powi(2)
                    + (yy as f32 + 0.5 - cy as f32).powi(2))
                .sqrt();
                let a = (ro - d + 0.5)
                    .clamp(0.0, 1.0)
                    .min((d - ri + 0.5).clamp(0.0, 1.0));
                self.blend(xx, yy, c, a);
            }
        }
    }

    /// Draw one line of text with its top-left at (x, top). Returns the advance width.
    pub fn text(&mut self, font: &FontArc, px: f32, x: f32, top: f32, s: &str, c: Color) -> f32 {
        let sf = font.as_scaled(px_scale(font, px));
        let baseline = top + sf.ascent();
        let mut caret = x;
        let mut prev = None;
        for ch in s.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                caret += sf.kern(p, id);
            }
            let glyph = id.with_scale_and_position(sf.scale(), point(caret, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let (bx, by) = (b.min.x as i32, b.min.y as i32);
                outline.draw(|gx, gy, cov| self.blend(bx + gx as i32, by + gy as i32, c, cov));
            }
            caret += sf.h_advance(id);
            prev = Some(id);
        }
        caret - x
    }

    /// Fill a diagonal stripe pattern inside a rectangle (decoration).
    pub fn stripes(&mut self, x: i32, y: i32, w: i32, h: i32, period: i32, c: Color) {
        let period = period.max(2);
        for yy in y.max(0)..(y + h).min(self.height()) {
            for xx in x.max(0)..(x + w).min(self.width()) {
                if (xx + yy).rem_euclid(period) < period / 2 {
                    self.img.put_pixel(xx as u32, yy as u32, Rgb(c));
                }
            }
        }
    }
}

/// Width of a line of text in pixels.
pub fn text_width(font: &FontArc, px: f32, s: &str) -> f32 {
    let sf = font.as_scaled(px_scale(font, px));
    let mut w = 0.0;
    let mut prev = None;
    for ch in s.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Line height (ascent − descent + line gap) for a font size.
pub fn line_height(font: &FontArc, px: f32) -> f32 {
    let sf = font.as_scaled(px_scale(font, px));
    sf.ascent() - sf.descent() + sf.line_gap()
}
