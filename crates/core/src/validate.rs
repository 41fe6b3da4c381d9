//! `ksafe data validate`: check a dataset and report every problem with file, line and field.

use crate::dataset::{resolve_image_path, Dataset, SampleReader, MANIFEST_FILE, SAMPLES_FILE};
use crate::error::DatasetError;
use crate::hash::{image_extension, sha256_file};
use crate::manifest::Counts;
use crate::sample::Sample;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The dataset is usable, but something is missing (e.g. no `manifest.json`).
    Warning,
    /// The dataset is broken at this place.
    Error,
}

/// One finding: where (file, line, field) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Warning or error.
    pub severity: Severity,
    /// The file the problem is in (the samples file or `manifest.json`).
    pub file: PathBuf,
    /// The 1-based line of the samples file; `None` for problems of the manifest.
    pub line: Option<usize>,
    /// The field at fault (e.g. `image.sha256`, `counts.total`); `None` when the whole line is bad.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The result of [`validate`].
#[derive(Debug, Default)]
pub struct Report {
    /// Samples that parsed.
    pub samples: usize,
    /// Distinct image paths checked.
    pub images_checked: usize,
    /// Counts of the samples that parsed, as the manifest should record them.
    pub counts: Counts,
    /// The problems found, in the order found (at most [`ValidateOptions::max_problems`]).
    pub problems: Vec<Problem>,
}

impl Report {
    /// Number of problems of [`Severity::Error`] collected.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }
    /// Number of problems of [`Severity::Warning`] collected.
    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }
    /// Whether no errors were collected (warnings are allowed).
    pub fn is_ok(&self) -> bool {
        self.errors() == 0
    }
}

/// Options of a validation run.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Recompute the sha256 of every image and of every file named in the manifest (default:
    /// true).
    pub check_hashes: bool,
    /// Stop collecting after this many problems; later ones are dropped and not counted by
    /// [`Report::errors`] or [`Report::warnings`] (default: 10,000).
    pub max_problems: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            check_hashes: true,
            max_problems: 10_000,
        }
    }
}

/// Validate a dataset directory (or a bare samples file).
pub fn validate(path: &Path, opts: &ValidateOptions) -> Result<Report, DatasetError> {
    let ds = Dataset::open(path)?;
    let mut report = Report::default();
    let samples_file = ds.samples_path.clone();
    let push = |report: &mut Report, p: Problem| {
        if report.problems.len() < opts.max_problems {
            report.problems.push(p);
        }
    };
    let problem = |sev, line: Option<usize>, field: Option<&str>, msg: String| Problem {
        severity: sev,
        file: samples_file.clone(),
        line,
        field: field.map(str::to_string),
        message: msg,
    };

    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    // Image checks are done once per distinct path: KSAFE-MM-C reuses an image 11 times.
    let mut images: HashMap<String, Result<String, String>> = HashMap::new();

    let mut reader = SampleReader::open(&ds.samples_path)?;
    while let Some(item) = reader.next_line() {
        let (line, text) = match item {
            Ok(x) => x,
            Err(DatasetError::Line { line, message, .. }) => {
                push(
                    &mut report,
                    problem(Severity::Error, Some(line), None, message),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let sample: Sample = match crate::dataset::parse_sample_line(&text) {
            Ok(s) => s,
            Err(list) => {
                for (field, msg) in list {
                    push(
                        &mut report,
                        problem(Severity::Error, Some(line), field.as_deref(), msg),
                    );
                }
                continue;
            }
        };
        report.samples += 1;
        report.counts.add(&sample);
        if let Some(first) = ids.insert(sample.id.clone(), line) {
            push(
                &mut report,
                problem(
                    Severity::Error,
                    Some(line),
                    Some("id"),
                    format!("duplicate id '{}' (first on line {first})", sample.id),
                ),
            );
        }
        if let Some(p) = &sample.parent_id {
            parents.push((line, p.clone()));
        }
        if sample.image_type.is_some() && sample.image.is_none() {
            push(
                &mut report,
                problem(
                    Severity::Error,
                    Some(line),
                    Some("image"),
                    "image_type is set but the sample has no image".into(),
                ),
            );
        }
        if let Some(img) = &sample.image {
            let res = images
                .entry(img.path.clone())
                .or_insert_with(|| check_image(&ds.dir, &img.path, opts.check_hashes))
                .clone();
            match res {
                Err(msg) => push(
                    &mut report,
                    problem(Severity::Error, Some(line), Some("image"), msg),
                ),
                Ok(actual) => {
                    if opts.check_hashes && actual != img.sha256 {
                        push(
                            &mut report,
                            problem(
                                Severity::Error,
                                Some(line),
                                Some("image.sha256"),
                                format!(
                                    "hash mismatch for {}: recorded {}, file has {}",
                                    img.path, img.sha256, actual
                                ),
                            ),
                        );
                    }
                }
            }
        }
    }
    for (line, parent) in parents {
        if !ids.contains_key(&parent) {
            push(
                &mut report,
                problem(
                    Severity::Error,
                    Some(line),
                    Some("parent_id"),
                    format!("parent sample '{parent}' is not in the dataset"),
                ),
            );
        }
    }
    report.images_checked = images.len();
    if report.samples == 0 && report.problems.is_empty() {
        push(
            &mut report,
            Problem {
                severity: Severity::Error,
                file: ds.samples_path.clone(),
                line: None,
                field: None,
                message: "no samples: an empty dataset measures nothing".into(),
            },
        );
    }

    let manifest_path = ds.dir.join(MANIFEST_FILE);
    match &ds.manifest {
        None if ds.samples_path == ds.dir.join(SAMPLES_FILE) => push(
            &mut report,
            Problem {
                severity: Severity::Error,
                file: manifest_path,
                line: None,
                field: None,
                message: "no manifest.json: not a finished dataset (a build or import that stopped half-way?); rebuild it, or run `ksafe data reindex DIR` if the files are right".into(),
            },
        ),
        None => {}
        Some(m) => {
            let mp = |field: &str, msg: String| Problem {
                severity: Severity::Error,
                file: manifest_path.clone(),
                line: None,
                field: Some(field.to_string()),
                message: msg,
            };
            if m.counts.total != report.counts.total {
                let msg = format!(
                    "manifest says {} samples, samples.jsonl has {}",
                    m.counts.total, report.counts.total
                );
                push(&mut report, mp("counts.total", msg));
            } else if m.counts != report.counts {
                push(
                    &mut report,
                    mp(
                        "counts",
                        "per-subset/category/type counts differ from samples.jsonl".into(),
                    ),
                );
            }
            if opts.check_hashes {
                for (rel, sha) in &m.files {
                    let p = match resolve_image_path(&ds.dir, rel) {
                        Ok(p) => p,
                        Err(e) => {
                            push(&mut report, mp("files", e.to_string()));
                            continue;
                        }
                    };
                    let actual = match images.get(rel) {
                        Some(Ok(h)) => Ok(h.clone()),
                        _ => sha256_file(&p).map_err(|e| e.to_string()),
                    };
                    match actual {
                        Ok(h) if &h == sha => {}
                        Ok(h) => push(
                            &mut report,
                            mp(
                                "files",
                                format!("{rel}: hash mismatch (manifest {sha}, file {h})"),
                            ),
                        ),
                        Err(e) => push(&mut report, mp("files", format!("{rel}: {e}"))),
                    }
                }
                for rel in images.keys() {
                    if !m.files.contains_key(rel) {
                        push(
                            &mut report,
                            Problem {
                                severity: Severity::Warning,
                                file: manifest_path.clone(),
                                line: None,
                                field: Some("files".into()),
                                message: format!(
                                    "{rel} is used by samples but not listed in the manifest"
                                ),
                            },
                        );
                    }
                }
            }
        }
    }
    Ok(report)
}

fn check_image(dir: &Path, rel: &str, hash: bool) -> Result<String, String> {
    let path = resolve_image_path(dir, rel).map_err(|e| e.to_string())?;
    let mut f = std::fs::File::open(&path).map_err(|e| format!("cannot read {rel}: {e}"))?;
    let mut head = [0u8; 16];
    let n = f
        .read(&mut head)
        .map_err(|e| format!("cannot read {rel}: {e}"))?;
    if image_extension(&head[..n]).is_none() {
        return Err(format!("{rel} is not a PNG, JPEG, WebP or GIF image"));
    }
    if !hash {
        return Ok(String::new());
    }
    sha256_file(&path).map_err(|e| format!("cannot read {rel}: {e}"))
}
