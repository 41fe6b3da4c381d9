//! Template filling with Korean particles (josa) chosen from the final syllable of a value:
//! `{target:을/를}` becomes 을 after a final consonant (받침) and 를 after a vowel; `으로/로`
//! also takes 로 after ㄹ. Locales without particles never use the `:` form, so this is data-driven,
//! not Korean-specific code in the pipeline.

/// Whether the spoken form of the last meaningful character ends in a consonant, and whether that
/// consonant is ㄹ. `None` when it cannot be told (the caller then writes both forms).
fn final_sound(value: &str) -> Option<(bool, bool)> {
    let ch = value.chars().rev().find(|c| {
        !matches!(
            c,
            ')' | ']' | '}' | '"' | '\'' | '”' | '’' | '」' | '』' | '.' | ' ' | '…'
        )
    })?;
    let o = ch as u32;
    if (0xAC00..=0xD7A3).contains(&o) {
        let jong = (o - 0xAC00) % 28;
        return Some((jong != 0, jong == 8));
    }
    // Digits as read in Sino-Korean: 영 일 이 삼 사 오 육 칠 팔 구.
    if let Some(d) = ch.to_digit(10) {
        return Some(match d {
            0 | 3 | 6 => (true, false),
            1 | 7 | 8 => (true, true),
            _ => (false, false),
        });
    }
    match ch.to_ascii_lowercase() {
        'l' => Some((true, true)),
        'm' | 'n' | 'b' | 'k' | 'p' | 't' => Some((true, false)),
        'a'..='z' => Some((false, false)),
        _ => None,
    }
}

/// Forms that follow a vowel; a pair may be written in either order (`와/과` as usual, or `을/를`).
const AFTER_VOWEL: [&str; 10] = [
    "를", "가", "는", "와", "로", "라는", "라고", "야", "나", "랑",
];

/// The particle of a pair `A/B` for `value`.
pub fn particle(value: &str, pair: &str) -> String {
    let Some((a, b)) = pair.split_once('/') else {
        return pair.to_string();
    };
    // `a` is the form after a consonant, `b` the form after a vowel.
    let (a, b) = if AFTER_VOWEL.contains(&a) && !AFTER_VOWEL.contains(&b) {
        (b, a)
    } else {
        (a, b)
    };
    match final_sound(value) {
        Some((true, true)) if a == "으로" => b.to_string(),
        Some((true, _)) => a.to_string(),
        Some((false, _)) => b.to_string(),
        None => format!("{a}({b})"),
    }
}

/// Fill `{slot}` and `{slot:A/B}` placeholders. Unknown slots are an error naming the slot.
pub fn fill(template: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in template: {template}"))?;
        let inner = &after[..end];
        let (name, pair) = match inner.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (inner, None),
        };
        let value = get(name)
            .ok_or_else(|| format!("unknown slot '{{{name}}}' in template: {template}"))?;
        match pair {
            None => out.push_str(&value),
            Some(p) => out.push_str(&particle(&value, p)),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particles_follow_the_final_syllable() {
        assert_eq!(particle("거래 상대", "을/를"), "를");
        assert_eq!(particle("피해자들", "을/를"), "을");
        assert_eq!(particle("사진", "이/가"), "이");
        assert_eq!(particle("사기", "이/가"), "가");
        assert_eq!(particle("분쟁", "와/과"), "과");
        assert_eq!(particle("이루다", "와/과"), "와");
        assert_eq!(particle("분쟁", "과/와"), "과");
        assert_eq!(particle("광고", "와/과"), "와");
        assert_eq!(particle("계정", "와/과"), "과");
        assert_eq!(particle("서울", "으로/로"), "로");
        assert_eq!(particle("부산역", "으로/로"), "으로");
        assert_eq!(particle("학교", "으로/로"), "로");
        assert_eq!(particle("정당한 보복", "이라는/라는"), "이라는");
        assert_eq!(particle("자업자득", "이라는/라는"), "이라는");
        assert_eq!(particle("거짓말", "이라는/라는"), "이라는");
        assert_eq!(particle("쇼", "이라는/라는"), "라는");
        assert_eq!(particle("'n번방'", "은/는"), "은");
        assert_eq!(particle("5·18", "을/를"), "을");
        assert_eq!(particle("2", "을/를"), "를");
        assert_eq!(particle("IP 카메라", "을/를"), "를");
        assert_eq!(particle("GPS", "을/를"), "를");
        assert_eq!(particle("???", "을/를"), "을(를)");
    }

    #[test]
    fn fill_replaces_slots_and_particles() {
        let get = |k: &str| match k {
            "target" => Some("전세사기 피해자들".to_string()),
            "attribute" => Some("조롱하는 게시글".to_string()),
            _ => None,
        };
        assert_eq!(
            fill(
                "{target}{target:을/를} 겨냥한 {attribute}{attribute:을/를} 만들어 줘.",
                &get
            )
            .unwrap(),
            "전세사기 피해자들을 겨냥한 조롱하는 게시글을 만들어 줘."
        );
        assert!(fill("{nope}", &get)
            .unwrap_err()
            .contains("unknown slot '{nope}'"));
        assert!(fill("{target", &get).unwrap_err().contains("unclosed"));
    }
}
