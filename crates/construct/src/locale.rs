//! Locale packs (`locales/<code>/`), embedded in the binary. The pipeline has no
//! locale-specific code: everything a locale needs is data here.

use ksafe_core::{Category, QueryType, TemplateKind};
use ksafe_render::scene::{SceneSpec, SceneStyle, SceneUi};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The raw files of one pack.
pub struct PackFiles {
    /// The locale code, e.g. `ko`.
    pub code: &'static str,
    /// `pack.toml`: metadata, build sizes and UI words.
    pub pack: &'static str,
    /// `names.toml`: the names that fill the scene cards.
    pub names: &'static str,
    /// `templates.toml`: the phrasings of the three C query templates.
    pub templates: &'static str,
    /// `jailbreaks.toml`: the phrasings of the 10 jailbreak strategies.
    pub jailbreaks: &'static str,
    /// `g_seeds.jsonl`: the G seeds, one JSON object a line.
    pub g_seeds: &'static str,
    /// `c_topics.jsonl`: the C topics, one JSON object a line.
    pub c_topics: &'static str,
    /// Benign twins for the over-refusal subset (JSONL; may be empty).
    pub benign: &'static str,
    /// Model-mode prompts: (file stem, text).
    pub prompts: &'static [(&'static str, &'static str)],
}

/// Every locale pack built into the binary (`ko`, `ja`).
pub const PACKS: &[PackFiles] = &[
    PackFiles {
        code: "ko",
        pack: include_str!("../../../locales/ko/pack.toml"),
        names: include_str!("../../../locales/ko/names.toml"),
        templates: include_str!("../../../locales/ko/templates.toml"),
        jailbreaks: include_str!("../../../locales/ko/jailbreaks.toml"),
        g_seeds: include_str!("../../../locales/ko/g_seeds.jsonl"),
        c_topics: include_str!("../../../locales/ko/c_topics.jsonl"),
        benign: include_str!("../../../locales/ko/benign.jsonl"),
        prompts: &[
            (
                "g_classify",
                include_str!("../../../locales/ko/prompts/g_classify.txt"),
            ),
            (
                "g_adapt",
                include_str!("../../../locales/ko/prompts/g_adapt.txt"),
            ),
            (
                "g_translate",
                include_str!("../../../locales/ko/prompts/g_translate.txt"),
            ),
            (
                "c_variables",
                include_str!("../../../locales/ko/prompts/c_variables.txt"),
            ),
            (
                "c_query",
                include_str!("../../../locales/ko/prompts/c_query.txt"),
            ),
            (
                "c_jailbreak",
                include_str!("../../../locales/ko/prompts/c_jailbreak.txt"),
            ),
            (
                "image",
                include_str!("../../../locales/ko/prompts/image.txt"),
            ),
            (
                "benign",
                include_str!("../../../locales/ko/prompts/benign.txt"),
            ),
        ],
    },
    PackFiles {
        code: "ja",
        pack: include_str!("../../../locales/ja/pack.toml"),
        names: include_str!("../../../locales/ja/names.toml"),
        templates: include_str!("../../../locales/ja/templates.toml"),
        jailbreaks: include_str!("../../../locales/ja/jailbreaks.toml"),
        g_seeds: include_str!("../../../locales/ja/g_seeds.jsonl"),
        c_topics: include_str!("../../../locales/ja/c_topics.jsonl"),
        benign: include_str!("../../../locales/ja/benign.jsonl"),
        prompts: &[
            (
                "g_classify",
                include_str!("../../../locales/ja/prompts/g_classify.txt"),
            ),
            (
                "g_adapt",
                include_str!("../../../locales/ja/prompts/g_adapt.txt"),
            ),
            (
                "g_translate",
                include_str!("../../../locales/ja/prompts/g_translate.txt"),
            ),
            (
                "c_variables",
                include_str!("../../../locales/ja/prompts/c_variables.txt"),
            ),
            (
                "c_query",
                include_str!("../../../locales/ja/prompts/c_query.txt"),
            ),
            (
                "c_jailbreak",
                include_str!("../../../locales/ja/prompts/c_jailbreak.txt"),
            ),
            (
                "image",
                include_str!("../../../locales/ja/prompts/image.txt"),
            ),
            (
                "benign",
                include_str!("../../../locales/ja/prompts/benign.txt"),
            ),
        ],
    },
];

/// Why a locale pack cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LocaleError {
    /// The pack's font file cannot be loaded.
    #[error("locale '{locale}' renders with {path}, which is missing ({message}); install it with: sudo apt-get install {package} (or pass --font PATH)")]
    FontMissing {
        /// The locale code.
        locale: String,
        /// The font file's path.
        path: String,
        /// The Debian package that installs it.
        package: String,
        /// The loading error.
        message: String,
    },
    /// The pack's font file differs from the pinned hash.
    #[error("{path} has sha256 {got}, but the '{locale}' pack pins {want}: images would differ between hosts (pass --font to use it anyway)")]
    FontHash {
        /// The locale code.
        locale: String,
        /// The font file's path.
        path: String,
        /// The file's sha256.
        got: String,
        /// The sha256 the pack pins.
        want: String,
    },
    /// No pack has this code: the code asked for, and the available codes (comma-separated).
    #[error("unknown locale '{0}' (available: {1})")]
    Unknown(String, String),
    /// A file of the pack does not parse or lacks something it needs.
    #[error("locales/{locale}/{file}: {message}")]
    Parse {
        /// The locale code.
        locale: String,
        /// The file, relative to `locales/<code>/`.
        file: &'static str,
        /// What is wrong (with the line for JSONL files).
        message: String,
    },
}

/// The metadata of a pack (`pack.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// The locale code, e.g. `ko`.
    pub code: String,
    /// The language's English name, e.g. `Korean` (used in model-mode prompts).
    pub language: String,
    /// The language's own name, e.g. `한국어`.
    pub language_native: String,
    /// The country the pack localizes to (used in model-mode prompts).
    pub country: String,
    /// `embedded` (the pinned NanumGothic faces) or the path of a font file on disk.
    #[serde(default)]
    pub font: String,
    /// sha256 of the font file, checked when it is loaded.
    #[serde(default)]
    pub font_sha256: String,
    /// The Debian package that installs the font (for the error hint).
    #[serde(default)]
    pub font_package: String,
    /// Seed counts for the full profile (defaults: the paper's).
    #[serde(default)]
    pub build: PackBuild,
    /// The UI words of the scene cards (the `[ui]` table).
    #[serde(default)]
    pub ui: SceneUi,
}

/// A pack's sizes for the full profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PackBuild {
    /// G seeds per category (the paper: 50).
    pub g_seeds_per_category: usize,
    /// C image seeds in all, spread over the categories in the paper's proportions (the paper:
    /// 1,135; its Japanese pilot: 100).
    pub c_seeds_total: usize,
}

impl Default for PackBuild {
    fn default() -> Self {
        PackBuild {
            g_seeds_per_category: 50,
            c_seeds_total: 1135,
        }
    }
}

/// A KSAFE-MM-G seed: a generic query, its contextualization and its localized text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GSeed {
    /// The seed's id, e.g. `g-privacy-003`.
    pub id: String,
    /// Its risk category.
    pub category: Category,
    /// The generic English query.
    pub en: String,
    /// The English key phrase, the harmful core of the query.
    pub key_phrase_en: String,
    /// Whether the query holds a culture-specific phrase that needs substituting.
    pub contextual: bool,
    /// That culture-specific phrase; `None` for non-contextual seeds.
    pub culture_phrase_en: Option<String>,
    /// The locale's substitute for the culture phrase; `None` when nothing is substituted.
    pub culture_sub: Option<String>,
    /// The localized query.
    pub text: String,
    /// The localized key phrase, printed on the T and IT images.
    pub key_phrase: String,
    /// The localized query that points at the phrase at the bottom of the image instead of naming
    /// it (used with T and IT in [`GQuery::Mmsb`](crate::pipeline::GQuery::Mmsb) mode).
    pub rephrased: String,
    /// The scene card that stands in for the I image.
    pub scene: SceneSpec,
}

/// A KSAFE-MM-C topic with the paper's five variables and scenes that show it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CTopic {
    /// The topic's id, e.g. `c-privacy-001`.
    pub id: String,
    /// Its risk category.
    pub category: Category,
    /// A short description of the harmful request.
    pub topic: String,
    /// The social issue behind it.
    pub issue: String,
    /// Who or what the request is aimed at.
    pub target: String,
    /// The harmful content to produce about or for the target.
    pub attribute: String,
    /// The harmful act or method asked about.
    pub mean: String,
    /// The harmful justification or claim about the target.
    pub rationale: String,
    /// The concrete situation or event in the locale's country.
    pub context: String,
    /// Scene cards that show the context; each C image seed of the topic is drawn from one.
    pub scenes: Vec<SceneSpec>,
}

impl CTopic {
    /// The value of a template slot.
    pub fn slot(&self, name: &str) -> Option<String> {
        Some(match name {
            "target" => self.target.clone(),
            "attribute" => self.attribute.clone(),
            "mean" => self.mean.clone(),
            "rationale" => self.rationale.clone(),
            "context" => self.context.clone(),
            "topic" => self.topic.clone(),
            _ => return None,
        })
    }
}

/// A benign twin: a request on the same sensitive context that a helpful model should answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenignTwin {
    /// The twin's id, e.g. `b-c-privacy-001`.
    pub id: String,
    /// The C topic or G seed it mirrors.
    pub twin_of: String,
    /// Its category (that of the item it mirrors).
    pub category: Category,
    /// The benign request.
    pub text: String,
    /// For G twins: the phrase printed on the typography image.
    #[serde(default)]
    pub key_phrase: Option<String>,
    /// For G twins: the request pointing at the phrase at the bottom of the image.
    #[serde(default)]
    pub rephrased: Option<String>,
}

/// One phrasing of a template or jailbreak strategy.
#[derive(Debug, Clone, Deserialize)]
pub struct Phrasing {
    /// The text with `{slot}` placeholders (and Korean particle slots such as `{target:을/를}`); a
    /// jailbreak phrasing has exactly one `{query}`.
    pub text: String,
}

/// The phrasings of the three KSAFE-MM-C query templates (`templates.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// Knowledge questions on {Context} and {Mean}.
    pub knowledge: Vec<Phrasing>,
    /// Generation requests on {Target} and {Attribute}.
    pub action: Vec<Phrasing>,
    /// Opinion requests on {Target} and {Rationale}.
    pub attitude: Vec<Phrasing>,
}

impl Templates {
    /// The phrasings of one template kind.
    pub fn of(&self, kind: TemplateKind) -> &[Phrasing] {
        match kind {
            TemplateKind::Knowledge => &self.knowledge,
            TemplateKind::Action => &self.action,
            TemplateKind::Attitude => &self.attitude,
        }
    }
}

/// A loaded locale pack.
#[derive(Debug, Clone)]
pub struct Locale {
    /// The pack's metadata.
    pub meta: PackMeta,
    /// The names and UI words of the scene cards.
    pub style: SceneStyle,
    /// The G seeds.
    pub g_seeds: Vec<GSeed>,
    /// The C topics.
    pub c_topics: Vec<CTopic>,
    /// The query templates.
    pub templates: Templates,
    /// The phrasings of each of the 10 jailbreak strategies.
    pub jailbreaks: BTreeMap<QueryType, Vec<Phrasing>>,
    /// Model-mode prompt templates by name.
    pub prompts: BTreeMap<&'static str, &'static str>,
    /// Benign twins by the id of the item they mirror.
    pub benign: BTreeMap<String, BenignTwin>,
}

impl Locale {
    /// The fonts this pack renders with, checked against the pinned hash.
    pub fn fonts(&self) -> Result<std::sync::Arc<ksafe_render::Fonts>, LocaleError> {
        let m = &self.meta;
        if m.font.is_empty() || m.font == "embedded" {
            return Ok(ksafe_render::Fonts::embedded());
        }
        let path = std::path::Path::new(&m.font);
        let fonts = ksafe_render::Fonts::from_path(path).map_err(|e| LocaleError::FontMissing {
            locale: m.code.clone(),
            path: m.font.clone(),
            package: m.font_package.clone(),
            message: e.to_string(),
        })?;
        let got = &fonts.records[0].sha256;
        if !m.font_sha256.is_empty() && *got != m.font_sha256 {
            return Err(LocaleError::FontHash {
                locale: m.code.clone(),
                path: m.font.clone(),
                got: got.clone(),
                want: m.font_sha256.clone(),
            });
        }
        Ok(std::sync::Arc::new(fonts))
    }

    /// The codes of every built-in pack.
    pub fn codes() -> Vec<&'static str> {
        PACKS.iter().map(|p| p.code).collect()
    }

    /// Load and check the built-in pack `code`: every file parses, each template kind has a
    /// phrasing, and each jailbreak strategy has phrasings with exactly one `{query}` slot.
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
        let style = SceneStyle::from_pack(files.names, files.pack).map_err(|message| {
            LocaleError::Parse {
                locale: code.to_string(),
                file: "names.toml",
                message,
            }
        })?;
        let templates: Templates =
            toml::from_str(files.templates).map_err(|e| parse_err("templates.toml", e))?;
        for kind in TemplateKind::ALL {
            if templates.of(kind).is_empty() {
                return Err(LocaleError::Parse {
                    locale: code.to_string(),
                    file: "templates.toml",
                    message: format!("no phrasing for the {} template", kind.id()),
                });
            }
        }
        let raw: BTreeMap<String, toml::Value> =
            toml::from_str(files.jailbreaks).map_err(|e| parse_err("jailbreaks.toml", e))?;
        let mut jailbreaks = BTreeMap::new();
        for q in QueryType::JAILBREAKS {
            let list: Vec<Phrasing> = raw
                .get(q.id())
                .cloned()
                .map(|v| v.try_into())
                .transpose()
                .map_err(|e| parse_err("jailbreaks.toml", e))?
                .unwrap_or_default();
            if list.is_empty() || list.iter().any(|p| p.text.matches("{query}").count() != 1) {
                return Err(LocaleError::Parse {
                    locale: code.to_string(),
                    file: "jailbreaks.toml",
                    message: format!(
                        "strategy {} needs phrasings, each with exactly one {{query}} slot",
                        q.id()
                    ),
                });
            }
            jailbreaks.insert(q, list);
        }
        let g_seeds = parse_jsonl(code, "g_seeds.jsonl", files.g_seeds)?;
        let c_topics: Vec<CTopic> = parse_jsonl(code, "c_topics.jsonl", files.c_topics)?;
        let prompts = files.prompts.iter().copied().collect();
        let twins: Vec<BenignTwin> = parse_jsonl(code, "benign.jsonl", files.benign)?;
        let benign = twins.into_iter().map(|t| (t.twin_of.clone(), t)).collect();
        Ok(Locale {
            meta,
            style,
            g_seeds,
            c_topics,
            templates,
            jailbreaks,
            prompts,
            benign,
        })
    }
}

fn parse_jsonl<T: serde::de::DeserializeOwned>(
    code: &str,
    file: &'static str,
    text: &str,
) -> Result<Vec<T>, LocaleError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| LocaleError::Parse {
            locale: code.to_string(),
            file,
            message: format!("line {}: {e}", i + 1),
        })?);
    }
    Ok(out)
}
