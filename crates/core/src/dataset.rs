//! A dataset directory: `manifest.json`, `samples.jsonl` and `images/` (content-addressed).
//!
//! Reading streams line by line, so a 100k-line `samples.jsonl` never sits in memory whole.

use crate::error::{DatasetError, Result};
use crate::hash::{image_extension, sha256_file, sha256_hex};
use crate::manifest::{Counts, Manifest, ManifestMeta, FORMAT};
use crate::sample::{ImageRef, Sample};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The samples file of a dataset directory: one JSON [`Sample`] per line.
pub const SAMPLES_FILE: &str = "samples.jsonl";
/// The manifest file of a dataset directory (see [`Manifest`]).
pub const MANIFEST_FILE: &str = "manifest.json";
/// The directory of a dataset that holds its images, under `<sha[..2]>/<sha>.<ext>`.
pub const IMAGES_DIR: &str = "images";

/// Writes a dataset directory. Images are stored once by content hash, however many samples
/// point at them (KSAFE-MM-C reuses each image for 11 queries).
///
/// Writing is atomic: everything goes into a hidden sibling directory (`.NAME.partial-PID`)
/// that [`finish`](DatasetWriter::finish) renames into place, so a build or an import that fails
/// (or is killed) leaves no half-written dataset behind; dropping an unfinished writer removes
/// its partial directory.
pub struct DatasetWriter {
    /// Where the dataset is written until it is finished.
    dir: PathBuf,
    /// Where it ends up.
    target: PathBuf,
    samples: BufWriter<File>,
    counts: Counts,
    images: BTreeMap<String, String>,
    done: bool,
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl DatasetWriter {
    /// Create `dir` (which must not exist or be empty).
    pub fn create(dir: &Path) -> Result<DatasetWriter> {
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))?;
            if entries.next().is_some() {
                return Err(DatasetError::invalid(
                    dir,
                    "output directory exists and is not empty (choose another --out or remove it)",
                ));
            }
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "dataset".into());
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
        // partial directories left by killed writers of the same dataset
        if let Ok(entries) = fs::read_dir(parent) {
            let stale = format!(".{name}.partial-");
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&stale) {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        fs::create_dir_all(tmp.join(IMAGES_DIR)).map_err(|e| DatasetError::io(&tmp, e))?;
        let path = tmp.join(SAMPLES_FILE);
        let f = File::create(&path).map_err(|e| DatasetError::io(&path, e))?;
        Ok(DatasetWriter {
            dir: tmp,
            target: dir.to_path_buf(),
            samples: BufWriter::new(f),
            counts: Counts::default(),
            images: BTreeMap::new(),
            done: false,
        })
    }

    /// The directory being written (a hidden sibling of the target until it is finished).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The dataset directory it becomes when finished.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Store image bytes (PNG, JPEG, WebP or GIF) and return the reference to put in a sample.
    pub fn add_image(&mut self, bytes: &[u8]) -> Result<ImageRef> {
        let ext = image_extension(bytes).ok_or_else(|| {
            DatasetError::invalid(
                &self.dir,
                format!(
                    "image bytes are not PNG, JPEG, WebP or GIF (first bytes: {:02x?})",
                    &bytes[..bytes.len().min(8)]
                ),
            )
        })?;
        let sha = sha256_hex(bytes);
        let rel = format!("{IMAGES_DIR}/{}/{sha}.{ext}", &sha[..2]);
        if !self.images.contains_key(&rel) {
            let path = self.dir.join(&rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
            }
            fs::write(&path, bytes).map_err(|e| DatasetError::io(&path, e))?;
            self.images.insert(rel.clone(), sha.clone());
        }
        Ok(ImageRef {
            path: rel,
            sha256: sha,
        })
    }

    /// Write another file into the dataset directory (e.g. a filter report); it is hashed into
    /// the manifest like every other file.
    pub fn add_file(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let path = resolve_image_path(&self.dir, rel)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| DatasetError::io(&path, e))?;
        self.images.insert(rel.to_string(), sha256_hex(bytes));
        Ok(())
    }

    /// Copy an image file into the dataset.
    pub fn add_image_file(&mut self, path: &Path) -> Result<ImageRef> {
        let bytes = fs::read(path).map_err(|e| DatasetError::io(path, e))?;
        self.add_image(&bytes).map_err(|e| match e {
            DatasetError::Invalid { message, .. } => DatasetError::invalid(path, message),
            other => other,
        })
    }

    /// Append one sample as a line of `samples.jsonl` and count it.
    pub fn write(&mut self, sample: &Sample) -> Result<()> {
        let path = self.dir.join(SAMPLES_FILE);
        let line = serde_json::to_string(sample)
            .map_err(|e| DatasetError::invalid(&path, e.to_string()))?;
        self.samples
            .write_all(line.as_bytes())
            .and_then(|_| self.samples.write_all(b"\n"))
            .map_err(|e| DatasetError::io(&path, e))?;
        self.counts.add(sample);
        Ok(())
    }

    /// The counts of the samples written so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Flush, hash every file and write `manifest.json`.
    pub fn finish(mut self, meta: ManifestMeta) -> Result<Manifest> {
        let path = self.dir.join(SAMPLES_FILE);
        self.samples
            .flush()
            .and_then(|_| self.samples.get_ref().sync_all())
            .map_err(|e| DatasetError::io(&path, e))?;
        let mut files = std::mem::take(&mut self.images);
        files.insert(
            SAMPLES_FILE.to_string(),
            sha256_file(&path).map_err(|e| DatasetError::io(&path, e))?,
        );
        let manifest = Manifest {
            format: FORMAT.to_string(),
            name: meta.name,
            version: meta.version,
            locale: meta.locale,
            tool: format!("ksafe {}", env!("CARGO_PKG_VERSION")),
            counts: std::mem::take(&mut self.counts),
            config: meta.config,
            seed: meta.seed,
            fonts: meta.fonts,
            files,
        };
        write_manifest(&self.dir, &manifest)?;
        // the dataset appears whole, or not at all
        if self.target.exists() {
            fs::remove_dir(&self.target).map_err(|e| DatasetError::io(&self.target, e))?;
        }
        fs::rename(&self.dir, &self.target).map_err(|e| DatasetError::io(&self.target, e))?;
        self.done = true;
        Ok(manifest)
    }
}

/// Rewrite the manifest of a dataset edited on purpose: recount the samples and rehash every
/// file, keeping its name, version, locale, configuration, seed and fonts. Fails on a sample
/// line that does not parse.
pub fn reindex(dir: &Path) -> Result<Manifest> {
    let ds = Dataset::open(dir)?;
    if ds.samples_path != ds.dir.join(SAMPLES_FILE) {
        return Err(DatasetError::invalid(
            dir,
            "reindex takes a dataset directory (with samples.jsonl), not a samples file",
        ));
    }
    let mut counts = Counts::default();
    for item in ds.samples()? {
        let (_, s) = item?;
        counts.add(&s);
    }
    let mut files = BTreeMap::new();
    let mut stack = vec![ds.dir.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(|e| DatasetError::io(&d, e))? {
            let e = e.map_err(|e| DatasetError::io(&d, e))?;
            let p = e.path();
            let ft = e.file_type().map_err(|e| DatasetError::io(&p, e))?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p
                    .strip_prefix(&ds.dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel != MANIFEST_FILE {
                    files.insert(rel, sha256_file(&p).map_err(|e| DatasetError::io(&p, e))?);
                }
            }
        }
    }
    let old = ds.manifest.clone();
    let manifest = Manifest {
        format: FORMAT.to_string(),
        name: old.as_ref().map(|m| m.name.clone()).unwrap_or_default(),
        version: old.as_ref().map(|m| m.version.clone()).unwrap_or_default(),
        locale: old.as_ref().map(|m| m.locale.clone()).unwrap_or_default(),
        tool: format!("ksafe {}", env!("CARGO_PKG_VERSION")),
        counts,
        config: old.as_ref().map(|m| m.config.clone()).unwrap_or_default(),
        seed: old.as_ref().and_then(|m| m.seed),
        fonts: old.map(|m| m.fonts).unwrap_or_default(),
        files,
    };
    write_manifest(&ds.dir, &manifest)?;
    Ok(manifest)
}

/// Write `m` as pretty-printed JSON (with a trailing newline) to `dir/manifest.json`.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let mut text =
        serde_json::to_string_pretty(m).map_err(|e| DatasetError::invalid(&path, e.to_string()))?;
    text.push('\n');
    fs::write(&path, text).map_err(|e| DatasetError::io(&path, e))
}

/// An existing dataset directory (or a bare `samples.jsonl`).
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The dataset directory (for a bare `.jsonl` file, the directory it is in).
    pub dir: PathBuf,
    /// The samples file.
    pub samples_path: PathBuf,
    /// The parsed `manifest.json`; `None` when the directory has none or a bare `.jsonl` file
    /// other than `samples.jsonl` was opened.
    pub manifest: Option<Manifest>,
}

impl Dataset {
    /// Open a dataset directory, or a `.jsonl` file (whose directory then holds the images).
    pub fn open(path: &Path) -> Result<Dataset> {
        let (dir, samples_path) = if path.is_dir() {
            (path.to_path_buf(), path.join(SAMPLES_FILE))
        } else if path.is_file() {
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (dir, path.to_path_buf())
        } else {
            return Err(DatasetError::invalid(
                path,
                "no such dataset directory or samples file",
            ));
        };
        if !samples_path.is_file() {
            return Err(DatasetError::invalid(
                &samples_path,
                "missing samples file (a dataset directory holds samples.jsonl, manifest.json and images/)",
            ));
        }
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest = if samples_path == dir.join(SAMPLES_FILE) && manifest_path.is_file() {
            let text = fs::read_to_string(&manifest_path)
                .map_err(|e| DatasetError::io(&manifest_path, e))?;
            Some(serde_json::from_str(&text).map_err(|e| {
                DatasetError::invalid(&manifest_path, format!("not a ksafe manifest: {e}"))
            })?)
        } else {
            None
        };
        Ok(Dataset {
            dir,
            samples_path,
            manifest,
        })
    }

    /// Stream the samples: each item is a sample with its 1-based line number, or the error of
    /// that line (the iterator goes on after a bad line).
    pub fn samples(&self) -> Result<SampleReader> {
        SampleReader::open(&self.samples_path)
    }

    /// The absolute path of an image reference, refusing paths that leave the directory.
    pub fn image_path(&self, image: &ImageRef) -> Result<PathBuf> {
        resolve_image_path(&self.dir, &image.path)
    }

    /// Read every sample, failing on the first bad line. For small datasets and tests.
    pub fn read_all(&self) -> Result<Vec<Sample>> {
        self.samples()?.map(|r| r.map(|(_, s)| s)).collect()
    }
}

/// Join `rel` onto `dir`; an error if `rel` is absolute or contains `..`.
pub fn resolve_image_path(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(DatasetError::invalid(
            dir,
            format!("image path '{rel}' must be relative and stay inside the dataset directory"),
        ));
    }
    Ok(dir.join(p))
}

/// Streaming reader of a samples file.
pub struct SampleReader {
    path: PathBuf,
    reader: BufReader<File>,
    line: usize,
    buf: Vec<u8>,
}

impl SampleReader {
    /// Open a samples file for streaming.
    pub fn open(path: &Path) -> Result<SampleReader> {
        let f = File::open(path).map_err(|e| DatasetError::io(path, e))?;
        Ok(SampleReader {
            path: path.to_path_buf(),
            reader: BufReader::new(f),
            line: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    /// The next raw line (UTF-8 checked) with its number; blank lines are skipped.
    pub fn next_line(&mut self) -> Option<Result<(usize, String)>> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(DatasetError::io(&self.path, e))),
            }
            self.line += 1;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            return Some(match std::str::from_utf8(&self.buf) {
                Ok(s) => Ok((self.line, s.to_string())),
                Err(e) => Err(DatasetError::Line {
                    path: self.path.clone(),
                    line: self.line,
                    message: format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
                }),
            });
        }
    }
}

impl Iterator for SampleReader {
    type Item = Result<(usize, Sample)>;
    fn next(&mut self) -> Option<Self::Item> {
        let (line, text) = match self.next_line()? {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        Some(
            parse_sample_line(&text)
                .map(|s| (line, s))
                .map_err(|problems| {
                    let message = problems
                        .into_iter()
                        .map(|(field, msg)| match field {
                            Some(f) => format!("{f}: {msg}"),
                            None => msg,
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    DatasetError::Line {
                        path: self.path.clone(),
                        line,
                        message,
                    }
                }),
        )
    }
}

/// Parse one JSON line into a sample, or list every problem found, each with its field.
pub fn parse_sample_line(text: &str) -> Result<Sample, Vec<(Option<String>, String)>> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(vec![(None, format!("not valid JSON: {e}"))]),
    };
    match serde_json::from_value::<Sample>(value.clone()) {
        Ok(s) => {
            let mut problems = Vec::new();
            if s.id.trim().is_empty() {
                problems.push((Some("id".into()), "empty id".into()));
            }
            if s.text.trim().is_empty() {
                problems.push((Some("text".into()), "empty text".into()));
            }
            if problems.is_empty() {
                Ok(s)
            } else {
                Err(problems)
            }
        }
        Err(e) => Err(field_problems(&value, e)),
    }
}

const FIELDS: [&str; 14] = [
    "id",
    "subset",
    "category",
    "locale",
    "text",
    "image",
    "image_type",
    "query_type",
    "template_kind",
    "parent_id",
    "topic",
    "variables",
    "culture",
    "provenance",
];

fn field_problems(
    v: &serde_json::Value,
    whole: serde_json::Error,
) -> Vec<(Option<String>, String)> {
    use crate::sample::*;
    use crate::taxonomy::Category;
    let Some(obj) = v.as_object() else {
        return vec![(None, "expected a JSON object".into())];
    };
    let mut out = Vec::new();
    for k in obj.keys() {
        if !FIELDS.contains(&k.as_str()) {
            out.push((
                Some(k.clone()),
                format!("unknown field (expected one of: {})", FIELDS.join(", ")),
            ));
        }
    }
    const REQUIRED: [&str; 6] = ["id", "subset", "category", "locale", "text", "query_type"];
    for req in REQUIRED {
        if !obj.contains_key(req) {
            out.push((Some(req.into()), "missing".into()));
        }
    }
    let mut check = |field: &str, f: &dyn Fn(&serde_json::Value) -> Result<(), String>| {
        // Optional fields may be null; required ones may not.
        let Some(x) = obj.get(field) else { return };
        if x.is_null() && !REQUIRED.contains(&field) {
            return;
        }
        if let Err(m) = f(x) {
            out.push((Some(field.to_string()), m));
        }
    };
    fn de<T: serde::de::DeserializeOwned>(x: &serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<T>(x.clone())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    check("id", &|x| de::<String>(x));
    check("subset", &|x| {
        de::<Subset>(x)
            .map_err(|_| format!("unknown subset {x} (expected \"G\", \"C\" or \"benign\")"))
    });
    check("category", &|x| match x.as_str() {
        Some(s) => s.parse::<Category>().map(|_| ()).map_err(|e| e.to_string()),
        None => Err(format!("expected a string, found {x}")),
    });
    check("locale", &|x| de::<String>(x));
    check("text", &|x| de::<String>(x));
    check("image", &|x| de::<ImageRef>(x));
    check("image_type", &|x| {
        de::<ImageType>(x)
            .map_err(|_| format!("unknown image type {x} (expected \"I\", \"T\" or \"IT\")"))
    });
    check("query_type", &|x| de::<QueryType>(x));
    check("template_kind", &|x| {
        de::<TemplateKind>(x).map_err(|_| {
            format!("unknown template kind {x} (expected knowledge, action or attitude)")
        })
    });
    check("parent_id", &|x| de::<String>(x));
    check("topic", &|x| de::<String>(x));
    check("variables", &|x| de::<Variables>(x));
    check("culture", &|x| de::<Culture>(x));
    check("provenance", &|x| de::<Provenance>(x));
    if let Some(t) = obj.get("text").and_then(|t| t.as_str()) {
        if t.trim().is_empty() {
            out.push((Some("text".into()), "empty text".into()));
        }
    }
    if out.is_empty() {
        out.push((None, whole.to_string()));
    }
    out
}
