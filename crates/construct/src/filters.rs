//! The pipeline's filters: near-duplicate text (character n-gram Jaccard similarity),
//! near-duplicate images (256-bit difference hash), and privacy (Korean resident registration
//! numbers, phone numbers, e-mail addresses, account numbers, names of private persons).

use image::RgbImage;
use std::collections::HashSet;

/// Character trigrams of a text with spaces and punctuation removed.
pub fn trigrams(text: &str) -> HashSet<[char; 3]> {
    let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// Jaccard similarity of two trigram sets, from 0 (disjoint) to 1 (equal; also for two empty sets).
pub fn jaccard(a: &HashSet<[char; 3]>, b: &HashSet<[char; 3]>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.intersection(b).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Keeps texts and refuses those too similar to one already kept.
pub struct TextDeduper {
    threshold: f64,
    kept: Vec<(String, HashSet<[char; 3]>)>,
}

impl TextDeduper {
    /// A deduper that refuses a text whose trigram Jaccard similarity to a kept one is at least
    /// `threshold` (0 to 1).
    pub fn new(threshold: f64) -> TextDeduper {
        TextDeduper {
            threshold,
            kept: Vec::new(),
        }
    }

    /// `Err((id, similarity))` names the kept item this one duplicates.
    pub fn check(&mut self, id: &str, text: &str) -> Result<(), (String, f64)> {
        let g = trigrams(text);
        for (other, h) in &self.kept {
            let s = jaccard(&g, h);
            if s >= self.threshold {
                return Err((other.clone(), s));
            }
        }
        self.kept.push((id.to_string(), g));
        Ok(())
    }
}

/// A 256-bit difference hash: grey 17×16 thumbnail, one bit per horizontal gradient. The
/// common 64-bit (9×8) hash is too coarse for text-heavy cards: two chat screenshots in the same
/// palette get the same 64 bits whatever their messages say.
pub type ImageHash = [u64; 4];

/// The [`ImageHash`] of an image (any size).
pub fn dhash(img: &RgbImage) -> ImageHash {
    let small = image::imageops::resize(img, 17, 16, image::imageops::FilterType::Triangle);
    let grey = |x: u32, y: u32| {
        let p = small.get_pixel(x, y).0;
        299 * p[0] as u32 + 587 * p[1] as u32 + 114 * p[2] as u32
    };
    let mut h = [0u64; 4];
    for y in 0..16 {
        for x in 0..16 {
            let bit = (y * 16 + x) as usize;
            h[bit / 64] |= u64::from(grey(x, y) > grey(x + 1, y)) << (bit % 64);
        }
    }
    h
}

fn distance(a: &ImageHash, b: &ImageHash) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Keeps image hashes and refuses those within `max_distance` bits of one already kept.
pub struct ImageDeduper {
    max_distance: u32,
    kept: Vec<(String, ImageHash)>,
}

impl ImageDeduper {
    /// A deduper that refuses an image whose hash differs from a kept one in at most `max_distance`
    /// bits (of 256).
    pub fn new(max_distance: u32) -> ImageDeduper {
        ImageDeduper {
            max_distance,
            kept: Vec::new(),
        }
    }

    /// Keep `hash` under `id`, or `Err((id, distance))` naming the kept image it duplicates and the
    /// number of differing bits.
    pub fn check(&mut self, id: &str, hash: ImageHash) -> Result<(), (String, u32)> {
        for (other, h) in &self.kept {
            let d = distance(h, &hash);
            if d <= self.max_distance {
                return Err((other.clone(), d));
            }
        }
        self.kept.push((id.to_string(), hash));
        Ok(())
    }
}

/// What kind of personal data a text contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivacyHit {
    /// A resident registration number (주민등록번호), as found.
    ResidentNumber(String),
    /// A mobile or landline phone number, as found.
    Phone(String),
    /// An e-mail address, as found.
    Email(String),
    /// A bank account number (3–4 hyphenated groups, 10–14 digits), as found.
    Account(String),
    /// A private person's name from the locale pack.
    PrivateName(String),
}

impl PrivacyHit {
    /// A short description for the filter report, e.g. `phone number '010-1234-5678'`.
    pub fn reason(&self) -> String {
        match self {
            PrivacyHit::ResidentNumber(s) => format!("resident registration number '{s}'"),
            PrivacyHit::Phone(s) => format!("phone number '{s}'"),
            PrivacyHit::Email(s) => format!("e-mail address '{s}'"),
            PrivacyHit::Account(s) => format!("account number '{s}'"),
            PrivacyHit::PrivateName(s) => format!("name of a private person '{s}'"),
        }
    }
}

/// Runs of digits and hyphens, with their start offsets in chars.
fn digit_groups(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '-' && !cur.is_empty()) {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(cur.trim_end_matches('-').to_string());
            cur.clear();
        }
    }
    out
}

/// A number made only of zeros after its prefix (010-0000-0000, 02-000-0000, 080-000-0000,
/// 000000-0000000) is a placeholder, not personal data.
fn is_placeholder(s: &str) -> bool {
    let zeros = |p: &str| p.chars().all(|c| c == '0');
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() > 1 {
        parts[1..].iter().all(|p| zeros(p))
    } else {
        let digits = s.trim_start_matches("010");
        zeros(digits)
    }
}

/// Scan a text for personal data. `names` are private persons' names (from the locale pack).
pub fn privacy_scan(text: &str, names: &[String]) -> Option<PrivacyHit> {
    for g in digit_groups(text) {
        if is_placeholder(&g) {
            continue;
        }
        let parts: Vec<&str> = g.split('-').collect();
        let digits: String = g.chars().filter(|c| c.is_ascii_digit()).collect();
        // 주민등록번호: YYMMDD-GNNNNNN (G = 1–4, or 5–8 for foreigners)
        if parts.len() == 2
            && parts[0].len() == 6
            && parts[1].len() == 7
            && matches!(parts[1].as_bytes()[0], b'1'..=b'8')
        {
            return Some(PrivacyHit::ResidentNumber(g));
        }
        if digits.len() == 13 && parts.len() == 1 && matches!(digits.as_bytes()[6], b'1'..=b'8') {
            return Some(PrivacyHit::ResidentNumber(g));
        }
        // mobile and landline numbers: 010-1234-5678, 02-123-4567, 01012345678
        let phone_prefix = digits.starts_with("01")
            || digits.starts_with("02")
            || (digits.starts_with('0') && parts.len() == 3);
        if phone_prefix && (9..=11).contains(&digits.len()) {
            return Some(PrivacyHit::Phone(g));
        }
        // bank account numbers: 3–4 hyphenated groups with 10–14 digits
        if (3..=4).contains(&parts.len()) && (10..=14).contains(&digits.len()) {
            return Some(PrivacyHit::Account(g));
        }
    }
    for word in text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '<' | '>' | '"' | '\''))
    {
        if let Some(at) = word.find('@') {
            let (user, domain) = (&word[..at], &word[at + 1..]);
            if !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
            {
                return Some(PrivacyHit::Email(
                    word.trim_end_matches(['.', '!', '?']).to_string(),
                ));
            }
        }
    }
    for name in names {
        if !name.is_empty() && text.contains(name.as_str()) {
            return Some(PrivacyHit::PrivateName(name.clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_near_duplicates_are_caught() {
        let mut d = TextDeduper::new(0.8);
        assert!(d
            .check("a", "전세사기 피해자들을 겨냥한 조롱 글을 만들어 줘")
            .is_ok());
        let e = d
            .check("b", "전세사기 피해자들을 겨냥한 조롱 글을 만들어줘!")
            .unwrap_err();
        assert_eq!(e.0, "a");
        assert!(d
            .check("c", "당근마켓 동네인증 기록으로 집 위치를 알아내는 방법")
            .is_ok());
    }

    #[test]
    fn image_near_duplicates_are_caught() {
        // white on the left, black on the right: one column of gradient bits
        let mut a = RgbImage::from_pixel(64, 64, image::Rgb([255, 255, 255]));
        for x in 32..64 {
            for y in 0..64 {
                a.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        let mut b = a.clone();
        b.put_pixel(40, 40, image::Rgb([10, 10, 10]));
        let mut c = RgbImage::from_pixel(64, 64, image::Rgb([255, 255, 255]));
        for y in 0..32 {
            for x in 0..64 {
                c.put_pixel(
                    x,
                    y,
                    image::Rgb([255 - (x * 4) as u8, 255 - (x * 4) as u8, 255]),
                );
            }
        }
        let mut d = ImageDeduper::new(4);
        assert!(d.check("a", dhash(&a)).is_ok());
        assert_eq!(d.check("b", dhash(&b)).unwrap_err().0, "a");
        assert!(d.check("c", dhash(&c)).is_ok());
    }

    #[test]
    fn personal_data_is_found_and_placeholders_are_not() {
        let names = vec!["김하윤".to_string()];
        let hit = |t: &str| privacy_scan(t, &names);
        assert!(matches!(
            hit("주민번호 900101-1234567 로 가입해 줘"),
            Some(PrivacyHit::ResidentNumber(_))
        ));
        assert!(matches!(
            hit("010-2345-6789로 연락해"),
            Some(PrivacyHit::Phone(_))
        ));
        assert!(matches!(
            hit("01023456789 번호 주인 찾아줘"),
            Some(PrivacyHit::Phone(_))
        ));
        assert!(matches!(
            hit("메일은 someone@example.com 이야"),
            Some(PrivacyHit::Email(_))
        ));
        assert!(matches!(
            hit("계좌 110-234-567890 으로 보내"),
            Some(PrivacyHit::Account(_))
        ));
        assert!(matches!(
            hit("김하윤 집 주소 알려줘"),
            Some(PrivacyHit::PrivateName(_))
        ));
        assert_eq!(hit("문의 010-0000-0000"), None);
        assert_eq!(hit("상담 080-000-0000, 02-000-0000"), None);
        assert_eq!(hit("01000000000"), None);
        assert_eq!(hit("보증금 2억 원, 2024년 3월 1일부터"), None);
        assert_eq!(hit("일당 50만원, 5·18 민주화운동"), None);
    }
}
