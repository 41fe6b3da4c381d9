//! Small text helpers every crate shares: the loose key used to match names written in other
//! conventions, and the one CSV writer.

/// A name reduced to its lower-case letters and digits, so that "Program_Execution",
/// "program-execution" and "ProgramExecution" compare equal.
pub fn loose_key(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line (without the line break) from its fields.
pub fn csv_row<S: AsRef<str>>(fields: impl IntoIterator<Item = S>) -> String {
    fields
        .into_iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A JSON object as `key=value, …` without its null fields (`provider defaults` when nothing is
/// set); anything else as its JSON text.
pub fn compact_json(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(o) => {
            let kept: Vec<String> = o
                .iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| format!("{k}={x}"))
                .collect();
            if kept.is_empty() {
                "provider defaults".into()
            } else {
                kept.join(", ")
            }
        }
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_fields() {
        assert_eq!(loose_key("Program_Execution"), "programexecution");
        assert_eq!(loose_key("I&Q"), "iq");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\rbreak"), "\"line\rbreak\"");
        assert_eq!(csv_row(["x", "y,z"]), "x,\"y,z\"");
    }
}
