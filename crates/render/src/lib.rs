//! The offline renderer: Korean (and other CJK) text drawn with a pinned font into typography
//! images (`T`), image + typography composites (`IT`) and scene cards (the stand-in for photos of
//! real-world contexts). Pure Rust, deterministic: the same input and seed give the same bytes.
//!
//! - [`Fonts`]: the pinned NanumGothic faces embedded at build time (or a face from a file); every
//!   drawing checks each character has ink, so a tofu box is an error, never an image.
//! - [`typography`] and [`composite`]: MM-SafetyBench's T and IT images from a key phrase.
//! - [`scene`]: a [`SceneSpec`] (kind, title, lines) drawn with a locale's [`SceneStyle`] into a
//!   1024 × 1024 card.
//! - [`wrap`]: line breaking that keeps Korean eojeol whole; [`canvas`]: the drawing surface.
//!
//! ```
//! use ksafe_render::{encode_png, typography, Fonts, TypoOptions};
//! let img = typography(&Fonts::embedded(), "보이스피싱 현금 수거", &TypoOptions::default()).unwrap();
//! assert_eq!(img.width(), 1024);
//! assert!(encode_png(&img).starts_with(b"\x89PNG"));
//! ```

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
