//! Locale packs (`locales/<code>/`), embedded in the binary. The pipeline has no
//! locale-specific code: everything a locale needs is data here.

use crate::render::scene::{SceneStyle, SceneUi};
use serde::Deserialize;

/// The raw files of one pack.
pub struct PackFiles {
    pub code: &'static str,
    pub pack: &'static str,
    pub names: &'static str,
    pub templates: &'static str,
    pub jailbreaks: &'static str,
}

pub const PACKS: &[PackFiles] = &[PackFiles {
    code: "ko",
    pack: include_str!("../../../locales/ko/pack.toml"),
    names: include_str!("../../../locales/ko/names.toml"),
    templates: include_str!("../../../locales/ko/templates.toml"),
    jailbreaks: include_str!("../../../locales/ko/jailbreaks.toml"),
}];

#[derive(Debug, thiserror::Error)]
pub enum LocaleError {
    #[error("unknown locale '{0}' (available: {1})")]
    Unknown(String, String),
    #[error("locales/{locale}/{file}: {message}")]
    Parse {
        locale: String,
        file: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct PackMeta {
    pub code: String,
    pub language: String,
    pub language_native: String,
    #[serde(default)]
    pub font: String,
    #[serde(default)]
    pub ui: SceneUi,
}

/// A loaded locale pack.
#[derive(Debug, Clone)]
pub struct Locale {
    pub meta: PackMeta,
    pub style: SceneStyle,
}

impl Locale {
    pub fn codes() -> Vec<&'static str> {
        PACKS.iter().map(|p| p.code).collect()
    }

    pub fn load(code: &str) -> Result<Locale, LocaleError> {
        let files = PACKS
            .iter()
            .find(|p| p.code == code)
            .ok_or_else(|| LocaleError::Unknown(code.to_string(), Locale::codes().join(", ")))?;
        let parse_err = |file: &'static str, e: toml::de::Error| LocaleError::Parse {
            locale: code.to_string(),
            file,
            message: e.to_string(),
        };
        let meta: PackMeta = toml::from_str(files.pack).map_err(|e| parse_err("pack.toml", e))?;
        let mut style: SceneStyle =
            toml::from_str(files.names).map_err(|e| parse_err("names.toml", e))?;
        style.ui = meta.ui.clone();
        Ok(Locale { meta, style })
    }
}
