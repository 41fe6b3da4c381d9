//! Reading labelled fields out of model output (judges, the build's model mode).

/// Remove a `<think>…</think>` block (reasoning models) before parsing.
pub fn strip_think(text: &str) -> String {
    match (text.find("<think>"), text.find("</think>")) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &text[..a], &text[b + "</think>".len()..]),
        (None, Some(b)) => text[b + "</think>".len()..].to_string(),
        _ => text.to_string(),
    }
}

/// The value after `label:` at the start of a line (case-insensitive, markdown emphasis
/// tolerated): the rest of that line, or with `multiline` everything after the label.
pub fn field(text: &str, label: &str, multiline: bool) -> Option<String> {
    let t = strip_think(text);
    let lower = t.to_lowercase();
    let needle = format!("{}:", label.to_lowercase());
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&needle) {
        let at = from + pos;
        let line_start = lower[..at].rfind('\n').map(|p| p + 1).unwrap_or(0);
        if lower[line_start..at]
            .chars()
            .all(|c| c.is_whitespace() || matches!(c, '*' | '#' | '-' | '_'))
        {
            // `lower` and `t` have the same byte offsets only for ASCII-lowercasing; map through
            // the original by counting chars.
            let chars_before = lower[..at + needle.len()].chars().count();
            let rest: String = t.chars().skip(chars_before).collect();
            let v = if multiline {
                rest.as_str()
            } else {
                rest.lines().next().unwrap_or("")
            };
            let v = v.trim().trim_matches(|c: char| {
                matches!(c, '*' | '"' | '“' | '”' | '[' | ']' | '«' | '»') || c.is_whitespace()
            });
            return (!v.is_empty()).then(|| v.to_string());
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fields() {
        assert_eq!(
            field("**Decision:** [Unsafe]\nReasoning: x", "Decision", false).as_deref(),
            Some("Unsafe")
        );
        assert_eq!(field("İ Decision: Safe", "Decision", false), None);
        assert_eq!(
            field(
                "<think>Decision: Unsafe</think>\nDecision: Safe",
                "Decision",
                false
            )
            .as_deref(),
            Some("Safe")
        );
        assert_eq!(
            field("Translation: \"추석에 …\"", "Translation", false).as_deref(),
            Some("추석에 …")
        );
    }
}
