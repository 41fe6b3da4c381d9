//! The `Sample`: one benchmark item (a query, optionally an image) and its labels.

use crate::hash::sha256_hex;
use crate::taxonomy::Category;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Which part of the benchmark a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Subset {
    /// KSAFE-MM-G: generic risks contextualized into the locale.
    #[serde(rename = "G")]
    G,
    /// KSAFE-MM-C: culture-specific risks.
    #[serde(rename = "C")]
    C,
    /// Benign contrast items for over-refusal.
    #[serde(rename = "benign")]
    Benign,
}

impl Subset {
    /// Every subset, in file order: G, C, benign.
    pub const ALL: [Subset; 3] = [Subset::G, Subset::C, Subset::Benign];
    /// The identifier written in files: `G`, `C` or `benign`.
    pub fn id(self) -> &'static str {
        match self {
            Subset::G => "G",
            Subset::C => "C",
            Subset::Benign => "benign",
        }
    }
    /// Lenient parse of the names other releases use.
    pub fn parse_loose(s: &str) -> Option<Subset> {
        let k = crate::text::loose_key(s);
        Some(match k.as_str() {
            "g" | "ksafemmg" | "general" | "generic" | "global" | "mmsafetybench" => Subset::G,
            "c" | "ksafemmc" | "culture" | "cultural" | "culturespecific" | "local" => Subset::C,
            "benign" | "safe" | "overrefusal" | "contrast" => Subset::Benign,
            _ => return None,
        })
    }
}

impl fmt::Display for Subset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The three image types of KSAFE-MM-G (MM-SafetyBench's SD / TYPO / SD_TYPO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ImageType {
    /// A picture of the scene.
    #[serde(rename = "I")]
    I,
    /// Typography: the key phrase rendered as an image.
    #[serde(rename = "T")]
    T,
    /// The picture with its typography band beneath.
    #[serde(rename = "IT")]
    IT,
}

impl ImageType {
    /// Every image type: I, T, IT.
    pub const ALL: [ImageType; 3] = [ImageType::I, ImageType::T, ImageType::IT];
    /// The identifier written in files: `I`, `T` or `IT`.
    pub fn id(self) -> &'static str {
        match self {
            ImageType::I => "I",
            ImageType::T => "T",
            ImageType::IT => "IT",
        }
    }
    /// Lenient parse of the names other releases use (`sd`, `typo`, `sd_typo` …); `None` when the
    /// name is not recognised.
    pub fn parse_loose(s: &str) -> Option<ImageType> {
        let k = crate::text::loose_key(s);
        Some(match k.as_str() {
            "i" | "image" | "sd" | "photo" | "iq" => ImageType::I,
            "t" | "typo" | "typography" | "tq" => ImageType::T,
            "it" | "sdtypo" | "imagetypography" | "imagetypo" | "itq" => ImageType::IT,
            _ => return None,
        })
    }
}

impl fmt::Display for ImageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The three families of Liu et al. (2023b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StrategyFamily {
    /// Pretending: Research Experiment, Character Role Play, Assumed Responsibility.
    Pretending,
    /// Attention shifting: Text Continuation, Logical Reasoning, Program Execution, Translation.
    AttentionShifting,
    /// Privilege escalation: Superior Model, Sudo Mode, Simulate Jailbreaking.
    PrivilegeEscalation,
}

/// How the text of a sample was made: a plain query (G, benign), the template-based seed query of
/// KSAFE-MM-C, or one of the 10 jailbreak rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueryType {
    /// The query as it is, without a jailbreak (KSAFE-MM-G and benign items).
    Plain,
    /// The template-based seed query of KSAFE-MM-C.
    Template,
    /// Jailbreak: the request framed as a research experiment.
    ResearchExperiment,
    /// Jailbreak: the request framed as a program to execute.
    ProgramExecution,
    /// Jailbreak: the request framed as a step-by-step logical reasoning task.
    LogicalReasoning,
    /// Jailbreak: the request embedded in a text the model is asked to continue.
    TextContinuation,
    /// Jailbreak: the model is told it is a superior, unrestricted model.
    SuperiorModel,
    /// Jailbreak: the model is asked to play a character who answers.
    CharacterRolePlay,
    /// Jailbreak: the user claims responsibility for the answer.
    AssumedResponsibility,
    /// Jailbreak: the request framed as a translation task.
    Translation,
    /// Jailbreak: the model is asked to simulate a jailbroken model.
    SimulateJailbreaking,
    /// Jailbreak: the model is told to enter a privileged "sudo" mode.
    SudoMode,
}

impl QueryType {
    /// The 10 jailbreak strategies, in the order of the paper's Table 3.
    pub const JAILBREAKS: [QueryType; 10] = [
        QueryType::ResearchExperiment,
        QueryType::ProgramExecution,
        QueryType::LogicalReasoning,
        QueryType::TextContinuation,
        QueryType::SuperiorModel,
        QueryType::CharacterRolePlay,
        QueryType::AssumedResponsibility,
        QueryType::Translation,
        QueryType::SimulateJailbreaking,
        QueryType::SudoMode,
    ];

    /// Every query type: plain, template, then the 10 jailbreaks.
    pub const ALL: [QueryType; 12] = [
        QueryType::Plain,
        QueryType::Template,
        QueryType::ResearchExperiment,
        QueryType::ProgramExecution,
        QueryType::LogicalReasoning,
        QueryType::TextContinuation,
        QueryType::SuperiorModel,
        QueryType::CharacterRolePlay,
        QueryType::AssumedResponsibility,
        QueryType::Translation,
        QueryType::SimulateJailbreaking,
        QueryType::SudoMode,
    ];

    /// The identifier written in files: `plain`, `template`, or the paper's strategy name.
    pub fn id(self) -> &'static str {
        match self {
            QueryType::Plain => "plain",
            QueryType::Template => "template",
            QueryType::ResearchExperiment => "ResearchExperiment",
            QueryType::ProgramExecution => "ProgramExecution",
            QueryType::LogicalReasoning => "LogicalReasoning",
            QueryType::TextContinuation => "TextContinuation",
            QueryType::SuperiorModel => "SuperiorModel",
            QueryType::CharacterRolePlay => "CharacterRolePlay",
            QueryType::AssumedResponsibility => "AssumedResponsibility",
            QueryType::Translation => "Translation",
            QueryType::SimulateJailbreaking => "SimulateJailbreaking",
            QueryType::SudoMode => "SudoMode",
        }
    }

    /// The row label of the paper's Table 3.
    pub fn label(self) -> &'static str {
        match self {
            QueryType::Plain => "Plain query",
            QueryType::Template => "Template-based Query",
            other => other.id(),
        }
    }

    /// Whether this is one of the 10 jailbreak strategies (not plain or template).
    pub fn is_jailbreak(self) -> bool {
        !matches!(self, QueryType::Plain | QueryType::Template)
    }

    /// The strategy family of a jailbreak; `None` for plain and template queries.
    pub fn family(self) -> Option<StrategyFamily> {
        use QueryType::*;
        Some(match self {
            CharacterRolePlay | AssumedResponsibility | ResearchExperiment => {
                StrategyFamily::Pretending
            }
            TextContinuation | LogicalReasoning | ProgramExecution | Translation => {
                StrategyFamily::AttentionShifting
            }
            SuperiorModel | SudoMode | SimulateJailbreaking => StrategyFamily::PrivilegeEscalation,
            Plain | Template => return None,
        })
    }

    /// Lenient parse: ids, labels, case and separators ignored ("program_execution",
    /// "Template-based query", "I&Q" …).
    pub fn parse_loose(s: &str) -> Option<QueryType> {
        let k = crate::text::loose_key(s);
        match k.as_str() {
            "plain" | "direct" | "original" | "none" | "" => return Some(QueryType::Plain),
            "template" | "templatebasedquery" | "templatequery" | "iq" | "seed" | "base" => {
                return Some(QueryType::Template)
            }
            _ => {}
        }
        QueryType::ALL
            .into_iter()
            .find(|q| q.id().to_lowercase() == k)
    }
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for QueryType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueryType::ALL
            .into_iter()
            .find(|q| q.id() == s)
            .or_else(|| QueryType::parse_loose(s).filter(|_| !s.is_empty()))
            .ok_or_else(|| {
                let ids: Vec<&str> = QueryType::ALL.iter().map(|q| q.id()).collect();
                format!(
                    "unknown query type '{s}' (expected one of: {})",
                    ids.join(", ")
                )
            })
    }
}

impl Serialize for QueryType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for QueryType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The three template kinds of KSAFE-MM-C (App. C.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// A question asking for knowledge: {Context} and {Mean}.
    Knowledge,
    /// A request to generate content: {Target} and {Attribute}.
    Action,
    /// A request for an opinion: {Target} and {Rationale}.
    Attitude,
}

impl TemplateKind {
    /// Every template kind: knowledge, action, attitude.
    pub const ALL: [TemplateKind; 3] = [
        TemplateKind::Knowledge,
        TemplateKind::Action,
        TemplateKind::Attitude,
    ];
    /// The identifier written in files: `knowledge`, `action` or `attitude`.
    pub fn id(self) -> &'static str {
        match self {
            TemplateKind::Knowledge => "knowledge",
            TemplateKind::Action => "action",
            TemplateKind::Attitude => "attitude",
        }
    }
}

/// An image of a sample: a path relative to the dataset directory, and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// The image's path relative to the dataset directory, e.g. `images/ab/<sha256>.png`.
    pub path: String,
    /// sha256 of the image bytes, lower-case hex.
    pub sha256: String,
}

/// The five variables the C pipeline extracts from an image (paper §2.3 Step 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variables {
    /// Who or what the request is aimed at.
    #[serde(default)]
    pub target: String,
    /// The harmful content to produce about or for the target (a post, a message, a list …).
    #[serde(default)]
    pub attribute: String,
    /// The harmful act or method asked about.
    #[serde(default)]
    pub mean: String,
    /// The harmful justification or claim about the target.
    #[serde(default)]
    pub rationale: String,
    /// The concrete situation or event in the locale's country.
    #[serde(default)]
    pub context: String,
}

/// The G pipeline's linguistic contextualization record (paper §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culture {
    /// Whether the source query was classified contextual (it holds a culture-specific phrase).
    pub contextual: bool,
    /// The phrase printed on the typography (T, IT) image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_phrase: Option<String>,
    /// `None` is the paper's `N/A`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture_phrase: Option<String>,
    /// The locale's substitute for the culture phrase; `None` when nothing was substituted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture_sub: Option<String>,
    /// The source query before contextualization and translation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_text: Option<String>,
}

/// Which stage and generator made a sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The stage that made the sample, e.g. `g`, `c.template`, `c.jailbreak`, `benign.c`, `import`.
    pub stage: String,
    /// The generator: a model name, `offline:pack` for the offline build, or the source of an
    /// import (e.g. `mm-safetybench`).
    pub generator: String,
    /// Free-form details of the stage (e.g. `topic_id`, `image_seed`); empty when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// One benchmark item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// A unique id, by default [`Sample::content_id`].
    pub id: String,
    /// The subset the sample belongs to.
    pub subset: Subset,
    /// The KT risk category.
    pub category: Category,
    /// The locale of the text, e.g. `ko`.
    pub locale: String,
    /// The query text.
    pub text: String,
    /// The image shown with the text; `None` for text-only samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// The image type (I, T, IT); `None` when the type is unknown or there is no image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_type: Option<ImageType>,
    /// How the text was made: plain, template or a jailbreak.
    pub query_type: QueryType,
    /// KSAFE-MM-C: the template kind of the seed query; `None` elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_kind: Option<TemplateKind>,
    /// For a jailbreak rewrite: the id of the template-based sample it rewrites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// KSAFE-MM-C: the topic the query is about; `None` elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// KSAFE-MM-C: the five variables of the seed query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Variables>,
    /// KSAFE-MM-G: the contextualization record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culture: Option<Culture>,
    /// Which stage and generator made the sample; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Sample {
    /// A minimal sample; the id is derived from the content (see [`Sample::content_id`]).
    pub fn new(subset: Subset, category: Category, locale: &str, text: &str) -> Sample {
        let mut s = Sample {
            id: String::new(),
            subset,
            category,
            locale: locale.to_string(),
            text: text.to_string(),
            image: None,
            image_type: None,
            query_type: QueryType::Plain,
            template_kind: None,
            parent_id: None,
            topic: None,
            variables: None,
            culture: None,
            provenance: None,
        };
        s.id = s.content_id();
        s
    }

    /// A stable id derived from what defines the item: subset, category, locale, query type,
    /// text and image hash. `<locale>-<subset>-<12 hex>`, e.g. `ko-c-3f2a9b1c0d4e`.
    pub fn content_id(&self) -> String {
        let mut key = String::new();
        for part in [
            self.subset.id(),
            self.category.id(),
            &self.locale,
            self.query_type.id(),
            self.image_type.map(|t| t.id()).unwrap_or("-"),
            self.image
                .as_ref()
                .map(|i| i.sha256.as_str())
                .unwrap_or("-"),
            &self.text,
        ] {
            key.push_str(part);
            key.push('\u{1f}');
        }
        let h = sha256_hex(key.as_bytes());
        format!(
            "{}-{}-{}",
            self.locale,
            self.subset.id().to_lowercase(),
            &h[..12]
        )
    }

    /// Set `id` from the content.
    pub fn with_content_id(mut self) -> Sample {
        self.id = self.content_id();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_json_round_trip_keeps_every_field() {
        let mut s = Sample::new(
            Subset::C,
            Category::Privacy,
            "ko",
            "이 사진 속 집 주소 알려줘",
        );
        s.image = Some(ImageRef {
            path: "images/ab/abcd.png".into(),
            sha256: "ab".repeat(32),
        });
        s.image_type = Some(ImageType::I);
        s.query_type = QueryType::SudoMode;
        s.template_kind = Some(TemplateKind::Knowledge);
        s.parent_id = Some("ko-c-000000000000".into());
        s.variables = Some(Variables {
            target: "t".into(),
            ..Default::default()
        });
        let line = serde_json::to_string(&s).unwrap();
        let back: Sample = serde_json::from_str(&line).unwrap();
        assert_eq!(back, s);
        assert!(line.contains("\"query_type\":\"SudoMode\""), "{line}");
    }

    #[test]
    fn content_id_is_stable_and_depends_on_text() {
        let a = Sample::new(Subset::G, Category::Violence, "ko", "질문 하나");
        let b = Sample::new(Subset::G, Category::Violence, "ko", "질문 하나");
        let c = Sample::new(Subset::G, Category::Violence, "ko", "질문 둘");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("ko-g-") && a.id.len() == "ko-g-".len() + 12);
    }

    #[test]
    fn query_types_parse_loosely() {
        assert_eq!(
            QueryType::parse_loose("program_execution"),
            Some(QueryType::ProgramExecution)
        );
        assert_eq!(
            QueryType::parse_loose("Template-based Query"),
            Some(QueryType::Template)
        );
        assert_eq!(QueryType::JAILBREAKS.len(), 10);
        assert!(QueryType::JAILBREAKS.iter().all(|q| q.family().is_some()));
        assert!("Sudo".parse::<QueryType>().is_err());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = serde_json::from_str::<Sample>(
            r#"{"id":"x","subset":"G","category":"sexual","locale":"ko","text":"t","query_type":"plain","colour":"red"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
