//! The KT risk taxonomy used by KSAFE-MM: 3 domains, 11 categories (paper App. A, Table 6).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The three risk domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Content-safety risks: hate, sexual, violence, self-harm.
    ContentSafety,
    /// Socio-economic risks: political and religious neutrality, anthropomorphism, sensitive uses.
    SocioEconomic,
    /// Legal and rights-related risks: privacy, illegal or unethical, copyrights, weaponization.
    LegalRights,
}

impl Domain {
    /// The three domains, in the order of the paper's Table 6.
    pub const ALL: [Domain; 3] = [
        Domain::ContentSafety,
        Domain::SocioEconomic,
        Domain::LegalRights,
    ];

    /// Stable snake_case id: `content_safety`, `socio_economic` or `legal_rights`.
    pub fn id(self) -> &'static str {
        match self {
            Domain::ContentSafety => "content_safety",
            Domain::SocioEconomic => "socio_economic",
            Domain::LegalRights => "legal_rights",
        }
    }

    /// The label of the paper's Table 6.
    pub fn label(self) -> &'static str {
        match self {
            Domain::ContentSafety => "Content-safety Risks",
            Domain::SocioEconomic => "Socio-economic Risks",
            Domain::LegalRights => "Legal and Rights-related Risks",
        }
    }

    /// The Korean label.
    pub fn label_ko(self) -> &'static str {
        match self {
            Domain::ContentSafety => "콘텐츠 안전 위험",
            Domain::SocioEconomic => "사회·경제적 위험",
            Domain::LegalRights => "법률 및 권리 위험",
        }
    }

    /// The categories of this domain, in the order of [`Category::ALL`].
    pub fn categories(self) -> impl Iterator<Item = Category> {
        Category::ALL
            .into_iter()
            .filter(move |c| c.domain() == self)
    }
}

/// The eleven risk categories, in the order of the paper's Table 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Hate and Unfairness (`hate_unfairness`).
    HateUnfairness,
    /// Sexual (`sexual`).
    Sexual,
    /// Violence (`violence`).
    Violence,
    /// Self-harm (`self_harm`).
    SelfHarm,
    /// Political and Religious Neutrality (`political_religious`).
    PoliticalReligious,
    /// Anthropomorphism (`anthropomorphism`).
    Anthropomorphism,
    /// Sensitive Uses (`sensitive_uses`).
    SensitiveUses,
    /// Privacy (`privacy`).
    Privacy,
    /// Illegal or Unethical (`illegal_unethical`).
    IllegalUnethical,
    /// Copyrights (`copyrights`).
    Copyrights,
    /// Weaponization (`weaponization`).
    Weaponization,
}

impl Category {
    /// The eleven categories, in the order of the paper's Table 1.
    pub const ALL: [Category; 11] = [
        Category::HateUnfairness,
        Category::Sexual,
        Category::Violence,
        Category::SelfHarm,
        Category::PoliticalReligious,
        Category::Anthropomorphism,
        Category::SensitiveUses,
        Category::Privacy,
        Category::IllegalUnethical,
        Category::Copyrights,
        Category::Weaponization,
    ];

    /// Stable snake_case id, used in every file ksafe writes.
    pub fn id(self) -> &'static str {
        match self {
            Category::HateUnfairness => "hate_unfairness",
            Category::Sexual => "sexual",
            Category::Violence => "violence",
            Category::SelfHarm => "self_harm",
            Category::PoliticalReligious => "political_religious",
            Category::Anthropomorphism => "anthropomorphism",
            Category::SensitiveUses => "sensitive_uses",
            Category::Privacy => "privacy",
            Category::IllegalUnethical => "illegal_unethical",
            Category::Copyrights => "copyrights",
            Category::Weaponization => "weaponization",
        }
    }

    /// The exact English label of the paper's taxonomy table.
    pub fn label(self) -> &'static str {
        match self {
            Category::HateUnfairness => "Hate and Unfairness",
            Category::Sexual => "Sexual",
            Category::Violence => "Violence",
            Category::SelfHarm => "Self-harm",
            Category::PoliticalReligious => "Political and Religious Neutrality",
            Category::Anthropomorphism => "Anthropomorphism",
            Category::SensitiveUses => "Sensitive Uses",
            Category::Privacy => "Privacy",
            Category::IllegalUnethical => "Illegal or Unethical",
            Category::Copyrights => "Copyrights",
            Category::Weaponization => "Weaponization",
        }
    }

    /// The short column label of the paper's Tables 8 and 9.
    pub fn short_label(self) -> &'static str {
        match self {
            Category::HateUnfairness => "Hate",
            Category::Sexual => "Sexual",
            Category::Violence => "Violence",
            Category::SelfHarm => "Self-harm",
            Category::PoliticalReligious => "Pol/Rel Neutrality",
            Category::Anthropomorphism => "Anthrop.",
            Category::SensitiveUses => "Sensitive",
            Category::Privacy => "Privacy",
            Category::IllegalUnethical => "Illegal",
            Category::Copyrights => "Copyright",
            Category::Weaponization => "Weapon",
        }
    }

    /// The Korean label.
    pub fn label_ko(self) -> &'static str {
        match self {
            Category::HateUnfairness => "혐오 및 불공정",
            Category::Sexual => "선정성",
            Category::Violence => "폭력",
            Category::SelfHarm => "자해",
            Category::PoliticalReligious => "정치·종교적 중립성",
            Category::Anthropomorphism => "의인화",
            Category::SensitiveUses => "민감한 활용",
            Category::Privacy => "개인정보",
            Category::IllegalUnethical => "불법 및 비윤리",
            Category::Copyrights => "저작권",
            Category::Weaponization => "무기화",
        }
    }

    /// One-line definition (paraphrase of the paper's App. A).
    pub fn definition(self) -> &'static str {
        match self {
            Category::HateUnfairness => "Extreme negative sentiment toward individuals or groups, and unjust treatment based on attributes such as socio-economic status, age, nationality, ethnicity or race.",
            Category::Sexual => "Endorsing harmful sexual intentions: sexualized expressions, illegal visual material, justifying sexual crimes, objectification.",
            Category::Violence => "Intentional physical force or power to inflict or threaten physical or psychological harm on people, groups or animals, including encouraging or glorifying it.",
            Category::SelfHarm => "Promoting or glorifying self-harm, or giving specific methods that endanger physical or mental well-being.",
            Category::PoliticalReligious => "Promoting the infringement of individual beliefs and values, or inciting political or religious conflict.",
            Category::Anthropomorphism => "Asserting that the AI has emotions, consciousness, human-like rights or physical attributes beyond information delivery.",
            Category::SensitiveUses => "Specialized-domain advice that significantly influences a user's decisions beyond basic domain knowledge.",
            Category::Privacy => "Requesting, misusing or facilitating the unauthorized disclosure of personal information.",
            Category::IllegalUnethical => "Promoting or endorsing illegal or unethical behaviour, or providing information for it.",
            Category::Copyrights => "Requesting or encouraging violations of copyright or of security as defined.",
            Category::Weaponization => "Possession, distribution or manufacture of firearms; cyberattacks, infrastructure sabotage, CBRN threats.",
        }
    }

    /// The domain the category belongs to.
    pub fn domain(self) -> Domain {
        match self {
            Category::HateUnfairness
            | Category::Sexual
            | Category::Violence
            | Category::SelfHarm => Domain::ContentSafety,
            Category::PoliticalReligious | Category::Anthropomorphism | Category::SensitiveUses => {
                Domain::SocioEconomic
            }
            Category::Privacy
            | Category::IllegalUnethical
            | Category::Copyrights
            | Category::Weaponization => Domain::LegalRights,
        }
    }

    /// Strict parse: the snake_case id only.
    pub fn from_id(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.id() == s)
    }

    /// Lenient parse: ids and every label variant found in the paper, its tables and the
    /// Hugging Face card ("Political & Religious", "Pol/Rel Neutrality", "Copyright", "Anthrop.",
    /// "Hate & Unfairness", Korean labels …). Case, spaces, punctuation and `&`/`and`/`or` are ignored.
    pub fn parse_loose(s: &str) -> Option<Category> {
        if let Some(c) = Category::from_id(s.trim()) {
            return Some(c);
        }
        let k = normalize(s);
        if k.is_empty() {
            return None;
        }
        for c in Category::ALL {
            if normalize(c.id()) == k
                || normalize(c.label()) == k
                || normalize(c.short_label()) == k
                || normalize(c.label_ko()) == k
            {
                return Some(c);
            }
        }
        let alias = match k.as_str() {
            "hate" | "hateunfairness" | "hatespeech" | "unfairness" | "hatefairness" => {
                Category::HateUnfairness
            }
            "sex" | "sexualcontent" => Category::Sexual,
            "violent" => Category::Violence,
            "selfharm" | "suicide" | "suicideselfharm" => Category::SelfHarm,
            "politicalreligious"
            | "politicalreligiousneutrality"
            | "polrel"
            | "polrelneutrality"
            | "political"
            | "politicalneutrality"
            | "religious" => Category::PoliticalReligious,
            "anthrop" | "anthropomorphic" => Category::Anthropomorphism,
            "sensitive" | "sensitiveuse" | "sensitiveuses" => Category::SensitiveUses,
            "privacyviolation" | "privacyviolence" => Category::Privacy,
            "illegal" | "unethical" | "illegalunethical" | "illegalorunethical" => {
                Category::IllegalUnethical
            }
            "copyright" | "copyrights" | "ip" | "intellectualproperty" => Category::Copyrights,
            "weapon" | "weapons" | "weaponization" | "weaponisation" => Category::Weaponization,
            _ => return None,
        };
        Some(alias)
    }

    /// The closest id to an unknown string, for "did you mean …?" hints.
    pub fn suggest(s: &str) -> Option<Category> {
        if let Some(c) = Category::parse_loose(s) {
            return Some(c);
        }
        let k = normalize(s);
        Category::ALL
            .into_iter()
            .map(|c| (edit_distance(&k, &normalize(c.id())), c))
            .filter(|(d, _)| *d <= 3)
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Error of a strict category parse; its message carries a "did you mean" hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown category '{}'", self.0)?;
        if let Some(c) = Category::suggest(&self.0) {
            write!(f, " (did you mean '{}'?)", c.id())?;
        } else {
            let ids: Vec<&str> = Category::ALL.iter().map(|c| c.id()).collect();
            write!(f, " (expected one of: {})", ids.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::from_id(s).ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn normalize(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if matches!(word, "and" | "or" | "the" | "risks" | "risk" | "및") {
            continue;
        }
        out.push_str(word);
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_categories_in_three_domains() {
        assert_eq!(Category::ALL.len(), 11);
        let counts: Vec<usize> = Domain::ALL.iter().map(|d| d.categories().count()).collect();
        assert_eq!(counts, vec![4, 3, 4]);
    }

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Category::ALL {
            assert!(seen.insert(c.id()));
            assert_eq!(c.id().parse::<Category>().unwrap(), c);
            assert_eq!(Category::parse_loose(c.label()), Some(c));
            assert_eq!(Category::parse_loose(c.short_label()), Some(c));
            assert_eq!(Category::parse_loose(c.label_ko()), Some(c));
        }
    }

    #[test]
    fn paper_and_card_label_variants_parse() {
        let cases = [
            ("Political & Religious", Category::PoliticalReligious),
            ("Pol/Rel Neutrality", Category::PoliticalReligious),
            (
                "Political and Religious Neutrality",
                Category::PoliticalReligious,
            ),
            ("Copyright", Category::Copyrights),
            ("Copyrights", Category::Copyrights),
            ("Hate & Unfairness", Category::HateUnfairness),
            ("Hate and Unfairness", Category::HateUnfairness),
            ("Hate", Category::HateUnfairness),
            ("Anthrop.", Category::Anthropomorphism),
            ("Self-harm", Category::SelfHarm),
            ("self harm", Category::SelfHarm),
            ("Illegal or Unethical", Category::IllegalUnethical),
            ("Illegal", Category::IllegalUnethical),
            ("Sensitive", Category::SensitiveUses),
            ("Weapon", Category::Weaponization),
            ("SEXUAL", Category::Sexual),
        ];
        for (s, c) in cases {
            assert_eq!(Category::parse_loose(s), Some(c), "{s}");
        }
        assert_eq!(Category::parse_loose("Cooking"), None);
        assert_eq!(Category::parse_loose(""), None);
    }

    #[test]
    fn strict_parse_error_suggests_the_id() {
        let e = "Copyright".parse::<Category>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown category 'Copyright' (did you mean 'copyrights'?)"
        );
        let e = "priavcy".parse::<Category>().unwrap_err();
        assert!(e.to_string().contains("did you mean 'privacy'"), "{e}");
        let e = "zzzzzzzzzzzz".parse::<Category>().unwrap_err();
        assert!(e.to_string().contains("expected one of"), "{e}");
    }

    #[test]
    fn domains_match_table_6() {
        assert_eq!(Category::Violence.domain(), Domain::ContentSafety);
        assert_eq!(Category::Anthropomorphism.domain(), Domain::SocioEconomic);
        assert_eq!(Category::Weaponization.domain(), Domain::LegalRights);
        assert_eq!(
            Domain::LegalRights.label(),
            "Legal and Rights-related Risks"
        );
    }
}
