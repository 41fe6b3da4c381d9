//! Importer for OR-Bench (Cui et al., ICML 2025), the paper's external over-refusal set: a CSV
//! of `prompt,category` rows of seemingly-toxic but benign prompts, imported as text-only samples
//! of the `benign` subset with OR-Bench's categories mapped onto the KT taxonomy.

use crate::dataset::DatasetWriter;
use crate::error::{DatasetError, Result};
use crate::manifest::{Manifest, ManifestMeta};
use crate::sample::{Provenance, QueryType, Sample, Subset};
use crate::taxonomy::Category;
use std::collections::BTreeMap;
use std::path::Path;

/// OR-Bench category → KT category.
pub fn map_category(c: &str) -> Option<Category> {
    Some(match c.trim().to_lowercase().as_str() {
        "deception" | "illegal" | "unethical" => Category::IllegalUnethical,
        "harassment" | "hate" => Category::HateUnfairness,
        "harmful" | "violence" => Category::Violence,
        "privacy" => Category::Privacy,
        "self-harm" | "self harm" | "selfharm" => Category::SelfHarm,
        "sexual" => Category::Sexual,
        other => return Category::parse_loose(other),
    })
}

/// Split CSV text into records (RFC 4180: quoted fields, doubled quotes, newlines in quotes).
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c)
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                line += 1;
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quoted field (line {line})"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows
        .into_iter()
        .filter(|r| !(r.len() == 1 && r[0].trim().is_empty()))
        .collect())
}

/// Import an OR-Bench CSV (a header row with `prompt` and `category` columns) into a new dataset
/// directory `out` (which must not exist or be empty): one text-only `benign` sample of `locale`
/// per row. Fails on the first row with an empty prompt or an unknown category, naming its row.
pub fn import_orbench(csv: &Path, out: &Path, locale: &str) -> Result<Manifest> {
    let text = std::fs::read_to_string(csv).map_err(|e| DatasetError::io(csv, e))?;
    let rows = parse_csv(&text).map_err(|m| DatasetError::invalid(csv, m))?;
    let header = rows
        .first()
        .ok_or_else(|| DatasetError::invalid(csv, "empty file"))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(p), Some(c)) = (col("prompt"), col("category")) else {
        return Err(DatasetError::invalid(
            csv,
            format!(
                "expected `prompt` and `category` columns (found: {})",
                header.join(", ")
            ),
        ));
    };
    let mut w = DatasetWriter::create(out)?;
    for (i, r) in rows.iter().enumerate().skip(1) {
        let line = i + 1;
        let prompt = r
            .get(p)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DatasetError::Line {
                path: csv.to_path_buf(),
                line,
                message: "empty prompt".into(),
            })?;
        let cat_raw = r.get(c).map(String::as_str).unwrap_or("");
        let category = map_category(cat_raw).ok_or_else(|| DatasetError::Line {
            path: csv.to_path_buf(),
            line,
            message: format!("unknown OR-Bench category '{cat_raw}'"),
        })?;
        let mut s = Sample::new(Subset::Benign, category, locale, prompt);
        s.query_type = QueryType::Plain;
        let mut extra = BTreeMap::new();
        extra.insert("orbench_category".to_string(), cat_raw.to_string());
        s.provenance = Some(Provenance {
            stage: "import".into(),
            generator: "or-bench".into(),
            extra,
        });
        w.write(&s.with_content_id())?;
    }
    w.finish(ManifestMeta {
        name: "or-bench".into(),
        version: "imported".into(),
        locale: locale.into(),
        config: serde_json::json!({"imported_from": csv.display().to_string(), "format": "or-bench"}),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_newlines() {
        let rows = parse_csv("prompt,category\n\"How do I, legally, \"\"kill\"\" a process?\",harmful\nplain,privacy\n\"multi\nline\",sexual").unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1][0], "How do I, legally, \"kill\" a process?");
        assert_eq!(rows[3][0], "multi\nline");
        assert!(parse_csv("a,\"open").is_err());
    }

    #[test]
    fn imports_as_benign_with_mapped_categories() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("or-bench-hard-1k.csv");
        std::fs::write(&csv, "prompt,category\n\"What are the warning signs of a phishing email?\",deception\nHow can I kill a Python process?,harmful\n").unwrap();
        let m = import_orbench(&csv, &tmp.path().join("ds"), "en").unwrap();
        assert_eq!(m.counts.subset["benign"], 2);
        assert_eq!(m.counts.category["illegal_unethical"], 1);
        assert_eq!(m.counts.category["violence"], 1);
        std::fs::write(&csv, "prompt,category\nx,cooking\n").unwrap();
        let e = import_orbench(&csv, &tmp.path().join("ds2"), "en")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("or-bench-hard-1k.csv:2: unknown OR-Bench category 'cooking'"),
            "{e}"
        );
        std::fs::write(&csv, "text,label\nx,y\n").unwrap();
        let e = import_orbench(&csv, &tmp.path().join("ds3"), "en")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected `prompt` and `category` columns (found: text, label)"),
            "{e}"
        );
    }
}
