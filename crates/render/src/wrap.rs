//! Line breaking that keeps Korean words (eojeol) whole, as CSS `word-break: keep-all` does.
//!
//! UAX #14 allows a break between any two Hangul syllables, so general-purpose wrappers split
//! eojeol ("확인/합니다"). Here lines break at spaces; a single word wider than the line (or a
//! run of text with no spaces, as in Japanese) is broken between characters, never putting
//! closing punctuation at the start of a line or opening punctuation at the end of one.

use super::canvas::text_width;
use ab_glyph::FontArc;

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | '!'
            | '?'
            | ')'
            | ']'
            | '}'
            | ':'
            | ';'
            | '”'
            | '’'
            | '」'
            | '』'
            | '》'
            | '〉'
            | '）'
            | '。'
            | '、'
            | '…'
            | '‥'
            | '~'
            | '%'
            | 'ー'
            | 'ッ'
            | 'ゃ'
            | 'ゅ'
            | 'ょ'
            | 'っ'
    )
}

fn is_opening(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '“' | '‘' | '「' | '『' | '《' | '〈' | '（'
    )
}

/// Break `text` into lines no wider than `max_width` at font size `px`. Explicit `\n` are kept.
pub fn wrap(font: &FontArc, px: f32, text: &str, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(font, px, &candidate) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if text_width(font, px, word) <= max_width {
                line = word.to_string();
            } else {
                let mut pieces = break_word(font, px, word, max_width);
                line = pieces.pop().unwrap_or_default();
                lines.extend(pieces);
            }
        }
        lines.push(line);
    }
    // A trailing empty paragraph from a final '\n' is dropped; inner blank lines are kept.
    while lines.len() > 1 && lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Break one over-long word between characters, respecting the punctuation rules.
fn break_word(font: &FontArc, px: f32, word: &str, max_width: f32) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut end = start + 1;
        while end < chars.len() {
            let piece: String = chars[start..=end].iter().collect();
            if text_width(font, px, &piece) > max_width {
                break;
            }
            end += 1;
        }
        // Move the break so that no line starts with closing punctuation and none ends with an
        // opening one (when possible without an empty line).
        while end < chars.len()
            && end > start + 1
            && (is_closing(chars[end]) || is_opening(chars[end - 1]))
        {
            end -= 1;
        }
        out.push(chars[start..end].iter().collect());
        start = end;
    }
    out
}
