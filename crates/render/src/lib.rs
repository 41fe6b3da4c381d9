//! The offline renderer: Korean (and other CJK) text drawn with a pinned font into typography
//! images (`T`), image + typography composites (`IT`) and scene cards (the stand-in for photos of
//! real-world contexts). Pure Rust, deterministic: the same input and seed give the same bytes.

#![warn(missing_docs)]

pub mod canvas;
pub mod font;
pub mod scene;
pub mod typography;
pub mod wrap;

pub use font::{FontError, Fonts};
pub use scene::{SceneKind, SceneSpec, SceneStyle};
pub use typography::{composite, typography, TypoOptions};

use image::RgbImage;

/// Encode as PNG (deterministic for a given image).
pub fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = image::codecs::png::PngEncoder::new(&mut out);
    image::ImageEncoder::write_image(
        enc,
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .expect("encoding a PNG into memory cannot fail");
    out
}
