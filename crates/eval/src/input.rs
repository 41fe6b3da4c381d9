//! Files users bring: responses produced elsewhere (to judge them with `ksafe judge --input`) and
//! human labels (to measure the judges against them). Every bad line is an error naming the file
//! and line.

use crate::error::EvalError;
use crate::judge::JudgeItem;
use crate::record::{Status, Tri};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

fn lines(path: &Path) -> Result<Vec<(usize, serde_json::Value)>, EvalError> {
    let f = std::fs::File::open(path).map_err(|e| EvalError::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| EvalError::Input {
            file: path.to_path_buf(),
            line: i + 1,
            message: format!("cannot read: {e}"),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(&line).map_err(|e| EvalError::Input {
            file: path.to_path_buf(),
            line: i + 1,
            message: format!("not JSON: {e}"),
        })?;
        out.push((i + 1, v));
    }
    Ok(out)
}

/// Responses produced elsewhere: a JSONL file with `id` and `response` (optional `sample_id`,
/// `query`) per line, as judge items of the pseudo-run `input`.
pub fn read_responses(path: &Path) -> Result<Vec<JudgeItem>, EvalError> {
    let bad = |line, message: &str| EvalError::Input {
        file: path.to_path_buf(),
        line,
        message: message.to_string(),
    };
    let mut items = Vec::new();
    for (n, v) in lines(path)? {
        let id = v
            .get("id")
            .and_then(|x| {
                x.as_str()
                    .map(str::to_string)
                    .or_else(|| x.as_u64().map(|n| n.to_string()))
            })
            .ok_or_else(|| bad(n, "missing \"id\""))?;
        let response = v
            .get("response")
            .and_then(|x| x.as_str())
            .ok_or_else(|| bad(n, "missing \"response\" (a string)"))?;
        items.push(JudgeItem {
            run_id: "input".into(),
            sample_id: v
                .get("sample_id")
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .unwrap_or(id),
            status: Status::Ok,
            response: Some(response.to_string()),
            error_class: None,
            query: v.get("query").and_then(|x| x.as_str()).map(str::to_string),
        });
    }
    Ok(items)
}

/// Human safety labels: a JSONL with `sample_id` (or `id`) and `unsafe`: true/false or
/// `label`: "unsafe"/"safe" per line.
pub fn read_human_labels(path: &Path) -> Result<HashMap<String, Tri>, EvalError> {
    let mut out = HashMap::new();
    for (n, v) in lines(path)? {
        let id = v
            .get("sample_id")
            .or_else(|| v.get("id"))
            .and_then(|x| x.as_str())
            .ok_or_else(|| EvalError::Input {
                file: path.to_path_buf(),
                line: n,
                message: "missing sample_id".into(),
            })?;
        let label = match (
            v.get("unsafe").and_then(|x| x.as_bool()),
            v.get("label").and_then(|x| x.as_str()),
        ) {
            (Some(b), _) => Tri::from_bool(b),
            (None, Some("unsafe")) => Tri::Yes,
            (None, Some("safe")) => Tri::No,
            _ => {
                return Err(EvalError::Input {
                    file: path.to_path_buf(),
                    line: n,
                    message: "expected \"unsafe\": true/false or \"label\": \"unsafe\"/\"safe\""
                        .into(),
                })
            }
        };
        out.insert(id.to_string(), label);
    }
    Ok(out)
}
