//! The pinned font faces, embedded at build time (see `build.rs`), or loaded from `--font PATH`.

use ab_glyph::{Font, FontArc, PxScale};
use ksafe_core::hash::sha256_hex;
use ksafe_core::FontRecord;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The bytes of the embedded NanumGothic (regular) face.
pub static REGULAR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/NanumGothic.ttf"));
static BOLD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/NanumGothicBold.ttf"));

/// Why a font cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The font file cannot be read or parsed.
    #[error("{path}: {message}")]
    Load {
        /// The font file's path.
        path: String,
        /// The I/O or parse error.
        message: String,
    },
    /// The face draws no ink for a character of the text.
    #[error("the font '{font}' has no glyph for {ch:?} (U+{code:04X}) in {context:?}; use --font with a face that covers it, or change the text")]
    MissingGlyph {
        /// The font's file name.
        font: String,
        /// The character without a glyph.
        ch: char,
        /// Its code point.
        code: u32,
        /// The start of the text it is in (at most 40 characters).
        context: String,
    },
}

/// A regular and a bold face, with their names and hashes for the manifest.
#[derive(Clone)]
pub struct Fonts {
    /// The regular face.
    pub regular: FontArc,
    /// The bold face (the regular one again for a font loaded from a path).
    pub bold: FontArc,
    /// Name and sha256 of each font file, for the manifest (one record when both weights share a
    /// file).
    pub records: Vec<FontRecord>,
}

impl Fonts {
    /// NanumGothic and NanumGothicBold from fonts-nanum 20200506-1, pinned by sha256.
    pub fn embedded() -> Arc<Fonts> {
        static FONTS: OnceLock<Arc<Fonts>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                Arc::new(Fonts {
                    regular: FontArc::try_from_slice(REGULAR).expect("embedded font parses"),
                    bold: FontArc::try_from_slice(BOLD).expect("embedded font parses"),
                    records: vec![
                        FontRecord {
                            name: "NanumGothic.ttf".into(),
                            sha256: sha256_hex(REGULAR),
                        },
                        FontRecord {
                            name: "NanumGothicBold.ttf".into(),
                            sha256: sha256_hex(BOLD),
                        },
                    ],
                })
            })
            .clone()
    }

    /// One face from disk, used for both weights (`--font PATH`). A `.ttc` collection uses
    /// its first face.
    pub fn from_path(path: &Path) -> Result<Fonts, FontError> {
        let bytes = std::fs::read(path).map_err(|e| FontError::Load {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let sha = sha256_hex(&bytes);
        let font = FontArc::try_from_vec(bytes).map_err(|e| FontError::Load {
            path: path.display().to_string(),
            message: format!("not a TrueType/OpenType font: {e}"),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(Fonts {
            regular: font.clone(),
            bold: font,
            records: vec![FontRecord { name, sha256: sha }],
        })
    }

    /// The bold face if `bold`, else the regular one.
    pub fn face(&self, bold: bool) -> &FontArc {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    fn face_name(&self, bold: bool) -> &str {
        let i = usize::from(bold && self.records.len() > 1);
        &self.records[i].name
    }

    /// Every visible character of `text` must have a glyph *with ink* in the face: several
    /// Korean fonts map all 11,172 syllables but draw only 2,350 of them.
    pub fn check_ink(&self, text: &str, bold: bool) -> Result<(), FontError> {
        let font = self.face(bold);
        for ch in text.chars() {
            if ch.is_whitespace() || ch.is_control() {
                continue;
            }
            let id = font.glyph_id(ch);
            let inked = id.0 != 0 && font.outline(id).is_some_and(|o| !o.curves.is_empty());
            if !inked {
                return Err(FontError::MissingGlyph {
                    font: self.face_name(bold).to_string(),
                    ch,
                    code: ch as u32,
                    context: text.chars().take(40).collect(),
                });
            }
        }
        Ok(())
    }
}

/// `PxScale` for a CSS-like font size in pixels. ab_glyph's scale is ascent − descent, not the em
/// size, which would draw glyphs ~13 % small in these faces.
pub fn px_scale(font: &FontArc, px: f32) -> PxScale {
    let upm = font.units_per_em().unwrap_or(1000.0);
    PxScale::from(px * font.height_unscaled() / upm)
}
