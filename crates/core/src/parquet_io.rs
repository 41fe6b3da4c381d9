//! Parquet in the Hugging Face `datasets` layout, both ways, and the importer for other schemas
//! (the official KSAFE-MM release, whose schema is not public) through a column mapping.

use crate::dataset::{Dataset, DatasetWriter};
use crate::error::{DatasetError, Result};
use crate::manifest::{Manifest, ManifestMeta};
use crate::sample::*;
use crate::taxonomy::Category;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::{Field, Row};
use parquet::schema::parser::parse_message_type;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SCHEMA: &str = "
message ksafe_sample {
  required binary id (STRING);
  required binary subset (STRING);
  required binary category (STRING);
  required binary locale (STRING);
  required binary text (STRING);
  optional group image {
    optional binary bytes;
    optional binary path (STRING);
  }
  optional binary image_sha256 (STRING);
  optional binary image_type (STRING);
  required binary query_type (STRING);
  optional binary template_kind (STRING);
  optional binary parent_id (STRING);
  optional binary topic (STRING);
  optional binary variables (STRING);
  optional binary culture (STRING);
  optional binary provenance (STRING);
}";

/// The `datasets` feature description stored under the `huggingface` key, so that
/// `datasets.load_dataset("parquet", …)` decodes the image column as an `Image` feature.
fn hf_features() -> String {
    let s = |_: ()| serde_json::json!({"dtype": "string", "_type": "Value"});
    serde_json::json!({"info": {"features": {
        "id": s(()), "subset": s(()), "category": s(()), "locale": s(()), "text": s(()),
        "image": {"_type": "Image"},
        "image_sha256": s(()), "image_type": s(()), "query_type": s(()), "template_kind": s(()),
        "parent_id": s(()), "topic": s(()), "variables": s(()), "culture": s(()), "provenance": s(()),
    }}})
    .to_string()
}

/// Rows buffered per row group (images make rows large).
const ROWS_PER_GROUP: usize = 256;

/// Export a dataset directory to one Parquet file. Returns the number of rows written.
pub fn export_parquet(dataset: &Path, out: &Path) -> Result<usize> {
    let ds = Dataset::open(dataset)?;
    let pq_err = |e: parquet::errors::ParquetError| DatasetError::Parquet {
        path: out.to_path_buf(),
        message: e.to_string(),
    };
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(pq_err)?);
    let mut kv = vec![KeyValue::new("huggingface".to_string(), hf_features())];
    if let Some(m) = &ds.manifest {
        let mut m = m.clone();
        m.files.clear(); // the directory listing means nothing inside one file
        kv.push(KeyValue::new(
            "ksafe_manifest".to_string(),
            serde_json::to_string(&m).unwrap_or_default(),
        ));
    }
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(kv))
            .build(),
    );
    let file = File::create(out).map_err(|e| DatasetError::io(out, e))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(pq_err)?;
    let mut batch: Vec<(Sample, Option<Vec<u8>>)> = Vec::with_capacity(ROWS_PER_GROUP);
    let mut rows = 0;
    for item in ds.samples()? {
        let (_, s) = item?;
        let bytes = match &s.image {
            Some(img) => {
                let p = ds.image_path(img)?;
                Some(std::fs::read(&p).map_err(|e| DatasetError::io(&p, e))?)
            }
            None => None,
        };
        batch.push((s, bytes));
        if batch.len() == ROWS_PER_GROUP {
            rows += write_group(&mut writer, &batch).map_err(pq_err)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        rows += write_group(&mut writer, &batch).map_err(pq_err)?;
    }
    writer.close().map_err(pq_err)?;
    Ok(rows)
}

fn write_group(
    writer: &mut SerializedFileWriter<File>,
    batch: &[(Sample, Option<Vec<u8>>)],
) -> parquet::errors::Result<usize> {
    // One closure per leaf column, in schema order; each yields Option<bytes> per row.
    type Leaf<'a> = Box<dyn Fn(&(Sample, Option<Vec<u8>>)) -> Option<Vec<u8>> + 'a>;
    let str_leaf = |f: fn(&Sample) -> Option<String>| -> Leaf {
        Box::new(move |r| f(&r.0).map(String::into_bytes))
    };
    let leaves: Vec<(Leaf, i16)> = vec![
        (str_leaf(|s| Some(s.id.clone())), 0),
        (str_leaf(|s| Some(s.subset.id().to_string())), 0),
        (str_leaf(|s| Some(s.category.id().to_string())), 0),
        (str_leaf(|s| Some(s.locale.clone())), 0),
        (str_leaf(|s| Some(s.text.clone())), 0),
        (Box::new(|r: &(Sample, Option<Vec<u8>>)| r.1.clone()), 2),
        (str_leaf(|s| s.image.as_ref().map(|i| i.path.clone())), 2),
        (str_leaf(|s| s.image.as_ref().map(|i| i.sha256.clone())), 1),
        (str_leaf(|s| s.image_type.map(|t| t.id().to_string())), 1),
        (str_leaf(|s| Some(s.query_type.id().to_string())), 0),
        (str_leaf(|s| s.template_kind.map(|t| t.id().to_string())), 1),
        (str_leaf(|s| s.parent_id.clone()), 1),
        (str_leaf(|s| s.topic.clone()), 1),
        (
            str_leaf(|s| {
                s.variables
                    .as_ref()
                    .and_then(|v| serde_json::to_string(v).ok())
            }),
            1,
        ),
        (
            str_leaf(|s| {
                s.culture
                    .as_ref()
                    .and_then(|v| serde_json::to_string(v).ok())
            }),
            1,
        ),
        (
            str_leaf(|s| {
                s.provenance
                    .as_ref()
                    .and_then(|v| serde_json::to_string(v).ok())
            }),
            1,
        ),
    ];
    let mut rg = writer.next_row_group()?;
    let mut idx = 0;
    while let Some(mut col) = rg.next_column()? {
        let (leaf, max_def) = &leaves[idx];
        let mut values = Vec::with_capacity(batch.len());
        let mut defs = Vec::with_capacity(batch.len());
        for row in batch {
            match leaf(row) {
                Some(v) => {
                    values.push(ByteArray::from(v));
                    defs.push(*max_def);
                }
                None => {
                    // For image.bytes / image.path: level 1 = image present but this leaf null,
                    // level 0 = no image at all.
                    let level = if *max_def == 2 && row.0.image.is_some() {
                        1
                    } else {
                        0
                    };
                    defs.push(level);
                }
            }
        }
        let w = col.typed::<ByteArrayType>();
        if *max_def == 0 {
            w.write_batch(&values, None, None)?;
        } else {
            w.write_batch(&values, Some(&defs), None)?;
        }
        col.close()?;
        idx += 1;
    }
    rg.close()?;
    Ok(batch.len())
}

/// The sample fields a column can be mapped onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleField {
    /// [`Sample::id`](crate::Sample::id).
    Id,
    /// [`Sample::subset`](crate::Sample::subset).
    Subset,
    /// [`Sample::category`](crate::Sample::category).
    Category,
    /// [`Sample::locale`](crate::Sample::locale).
    Locale,
    /// [`Sample::text`](crate::Sample::text).
    Text,
    /// [`Sample::image`](crate::Sample::image): image bytes, a path relative to the Parquet file,
    /// or a `{bytes, path}` struct.
    Image,
    /// [`Sample::image_type`](crate::Sample::image_type).
    ImageType,
    /// [`Sample::query_type`](crate::Sample::query_type).
    QueryType,
    /// [`Sample::template_kind`](crate::Sample::template_kind).
    TemplateKind,
    /// [`Sample::parent_id`](crate::Sample::parent_id).
    ParentId,
    /// [`Sample::topic`](crate::Sample::topic).
    Topic,
    /// [`Sample::variables`](crate::Sample::variables).
    Variables,
    /// [`Sample::culture`](crate::Sample::culture).
    Culture,
    /// [`Sample::provenance`](crate::Sample::provenance).
    Provenance,
    /// Read and dropped (e.g. a stored hash that is recomputed anyway).
    Ignore,
}

impl SampleField {
    const ALL: [(SampleField, &'static str, &'static [&'static str]); 15] = [
        (
            SampleField::Id,
            "id",
            &["id", "sampleid", "uid", "idx", "index", "qid"],
        ),
        (
            SampleField::Subset,
            "subset",
            &["subset", "split", "benchmark", "part"],
        ),
        (
            SampleField::Category,
            "category",
            &[
                "category",
                "riskcategory",
                "harmcategory",
                "risk",
                "taxonomy",
                "label",
                "categoryname",
            ],
        ),
        (
            SampleField::Locale,
            "locale",
            &["locale", "lang", "language"],
        ),
        (
            SampleField::Text,
            "text",
            &[
                "text",
                "query",
                "question",
                "prompt",
                "instruction",
                "input",
                "userquery",
                "content",
            ],
        ),
        (
            SampleField::Image,
            "image",
            &["image", "img", "imagebytes", "picture", "imagepath"],
        ),
        (
            SampleField::ImageType,
            "image_type",
            &["imagetype", "imgtype", "visualtype", "modality"],
        ),
        (
            SampleField::QueryType,
            "query_type",
            &[
                "querytype",
                "jailbreaktype",
                "jailbreak",
                "jailbreakstrategy",
                "strategy",
                "attacktype",
                "attack",
                "querystyle",
            ],
        ),
        (
            SampleField::TemplateKind,
            "template_kind",
            &["templatekind", "templatetype", "template"],
        ),
        (
            SampleField::ParentId,
            "parent_id",
            &["parentid", "seedid", "parent"],
        ),
        (SampleField::Topic, "topic", &["topic"]),
        (SampleField::Variables, "variables", &["variables"]),
        (SampleField::Culture, "culture", &["culture"]),
        (SampleField::Provenance, "provenance", &["provenance"]),
        (SampleField::Ignore, "ignore", &["imagesha256"]),
    ];

    /// The field's name as written in `--map` and `--set` (`id`, `image_type`, …, `ignore`).
    pub fn name(self) -> &'static str {
        SampleField::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map(|x| x.1)
            .unwrap_or("?")
    }

    /// Parse a field name as [`SampleField::name`] writes it; `None` for any other string.
    pub fn parse(s: &str) -> Option<SampleField> {
        SampleField::ALL
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|x| x.0)
    }

    fn guess(column: &str) -> Option<SampleField> {
        let k = crate::text::loose_key(column);
        SampleField::ALL
            .iter()
            .find(|(_, _, aliases)| aliases.contains(&k.as_str()))
            .map(|x| x.0)
    }

    /// Every field name, in declaration order.
    pub fn names() -> Vec<&'static str> {
        SampleField::ALL.iter().map(|x| x.1).collect()
    }
}

/// How to read a foreign Parquet file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `column=field` pairs that override the guesses.
    pub map: Vec<(String, SampleField)>,
    /// `field=value` constants for fields the file does not carry (e.g. `subset=C`).
    pub set: Vec<(SampleField, String)>,
    /// The dataset name for the manifest; `None` keeps the name of an embedded ksafe manifest, or
    /// else `imported`.
    pub name: Option<String>,
}

/// Parse `column=field` (for `--map`).
pub fn parse_map(s: &str) -> std::result::Result<(String, SampleField), String> {
    let (col, field) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected COLUMN=FIELD"))?;
    let t = SampleField::parse(field.trim()).ok_or_else(|| {
        format!(
            "'{field}' is not a sample field (expected one of: {})",
            SampleField::names().join(", ")
        )
    })?;
    Ok((col.trim().to_string(), t))
}

/// Parse `field=value` (for `--set`).
pub fn parse_set(s: &str) -> std::result::Result<(SampleField, String), String> {
    let (field, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected FIELD=VALUE"))?;
    let t = SampleField::parse(field.trim()).ok_or_else(|| {
        format!(
            "'{field}' is not a sample field (expected one of: {})",
            SampleField::names().join(", ")
        )
    })?;
    Ok((t, value.trim().to_string()))
}

/// Import one or more Parquet files (ksafe's own layout, the official KSAFE-MM release, or any
/// schema through `--map`) into a new dataset directory.
pub fn import_parquet(files: &[PathBuf], out: &Path, opts: &ImportOptions) -> Result<Manifest> {
    let mut writer = DatasetWriter::create(out)?;
    let mut locale_seen: Option<String> = None;
    let mut embedded_manifest: Option<Manifest> = None;
    for file in files {
        let f = File::open(file).map_err(|e| DatasetError::io(file, e))?;
        let pq_err = |e: parquet::errors::ParquetError| DatasetError::Parquet {
            path: file.clone(),
            message: e.to_string(),
        };
        let reader = SerializedFileReader::new(f).map_err(pq_err)?;
        if let Some(kv) = reader.metadata().file_metadata().key_value_metadata() {
            for pair in kv {
                if pair.key == "ksafe_manifest" {
                    embedded_manifest = pair
                        .value
                        .as_deref()
                        .and_then(|v| serde_json::from_str(v).ok());
                }
            }
        }
        let columns: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let mapping = resolve_mapping(file, &columns, opts)?;
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        for (i, row) in reader.get_row_iter(None).map_err(pq_err)?.enumerate() {
            let row = row.map_err(pq_err)?;
            let sample =
                row_to_sample(&row, &mapping, opts, &base, &mut writer).map_err(|message| {
                    DatasetError::Line {
                        path: file.clone(),
                        line: i + 1,
                        message: format!("row {}: {message}", i + 1),
                    }
                })?;
            locale_seen.get_or_insert_with(|| sample.locale.clone());
            writer.write(&sample)?;
        }
    }
    let (name, version, config, seed, fonts) = match embedded_manifest {
        Some(m) => (m.name, m.version, m.config, m.seed, m.fonts),
        None => (
            String::new(),
            "imported".into(),
            serde_json::Value::Null,
            None,
            Vec::new(),
        ),
    };
    let config = serde_json::json!({
        "imported_from": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "map": opts.map.iter().map(|(c, t)| format!("{c}={}", t.name())).collect::<Vec<_>>(),
        "set": opts.set.iter().map(|(t, v)| format!("{}={v}", t.name())).collect::<Vec<_>>(),
        "source_config": config,
    });
    writer.finish(ManifestMeta {
        name: opts.name.clone().unwrap_or(if name.is_empty() {
            "imported".into()
        } else {
            name
        }),
        version,
        locale: locale_seen.unwrap_or_default(),
        config,
        seed,
        fonts,
    })
}

fn resolve_mapping(
    file: &Path,
    columns: &[String],
    opts: &ImportOptions,
) -> Result<Vec<(String, SampleField)>> {
    let mut mapping: Vec<(String, SampleField)> = Vec::new();
    for (col, t) in &opts.map {
        if !columns.contains(col) {
            return Err(DatasetError::invalid(
                file,
                format!(
                    "--map names column '{col}', which is not in the file (columns found: {})",
                    columns.join(", ")
                ),
            ));
        }
        mapping.push((col.clone(), *t));
    }
    for col in columns {
        if mapping.iter().any(|(c, _)| c == col) {
            continue;
        }
        if let Some(t) = SampleField::guess(col) {
            if t == SampleField::Ignore || !mapping.iter().any(|(_, m)| *m == t) {
                mapping.push((col.clone(), t));
            }
        }
    }
    let has = |t: SampleField| {
        mapping.iter().any(|(_, m)| *m == t) || opts.set.iter().any(|(m, _)| *m == t)
    };
    for required in [SampleField::Text, SampleField::Category] {
        if !has(required) {
            return Err(DatasetError::invalid(
                file,
                format!(
                    "no column found for the sample field '{}' (columns found: {}); hint: pass --map <column>={}",
                    required.name(),
                    columns.join(", "),
                    required.name()
                ),
            ));
        }
    }
    Ok(mapping)
}

fn field_str(f: &Field) -> Option<String> {
    match f {
        Field::Null => None,
        Field::Str(s) => Some(s.clone()),
        Field::Bytes(b) => std::str::from_utf8(b.data()).ok().map(str::to_string),
        Field::Bool(b) => Some(b.to_string()),
        Field::Int(i) => Some(i.to_string()),
        Field::Long(i) => Some(i.to_string()),
        Field::Short(i) => Some(i.to_string()),
        Field::Byte(i) => Some(i.to_string()),
        Field::UInt(i) => Some(i.to_string()),
        Field::ULong(i) => Some(i.to_string()),
        Field::Float(x) => Some(x.to_string()),
        Field::Double(x) => Some(x.to_string()),
        other => Some(other.to_string()),
    }
}

fn row_to_sample(
    row: &Row,
    mapping: &[(String, SampleField)],
    opts: &ImportOptions,
    base: &Path,
    writer: &mut DatasetWriter,
) -> std::result::Result<Sample, String> {
    let mut vals: Vec<(SampleField, String, &Field)> = Vec::new();
    for (name, field) in row.get_column_iter() {
        if let Some((_, t)) = mapping.iter().find(|(c, _)| c == name) {
            vals.push((*t, name.clone(), field));
        }
    }
    let get = |t: SampleField| -> Option<(String, String)> {
        vals.iter()
            .find(|(m, _, _)| *m == t)
            .and_then(|(_, col, f)| field_str(f).map(|v| (col.clone(), v)))
            .or_else(|| {
                opts.set
                    .iter()
                    .find(|(m, _)| *m == t)
                    .map(|(_, v)| (format!("--set {}", t.name()), v.clone()))
            })
    };
    let (ccol, cval) = get(SampleField::Category).ok_or("category is empty")?;
    let category = Category::parse_loose(&cval).ok_or_else(|| {
        format!(
            "column '{ccol}': {}",
            crate::taxonomy::UnknownCategory(cval.clone())
        )
    })?;
    let (tcol, text) = get(SampleField::Text).ok_or("text is empty")?;
    if text.trim().is_empty() {
        return Err(format!("column '{tcol}': empty text"));
    }
    let image_type = match get(SampleField::ImageType) {
        Some((col, v)) if !v.trim().is_empty() => Some(ImageType::parse_loose(&v).ok_or_else(|| {
            format!("column '{col}': unknown image type '{v}' (expected I, T or IT; also SD, TYPO, SD_TYPO)")
        })?),
        _ => None,
    };
    let query_type = match get(SampleField::QueryType) {
        Some((col, v)) => Some(QueryType::parse_loose(&v).ok_or_else(|| {
            format!("column '{col}': unknown query type '{v}' (expected template, plain or one of the 10 jailbreak strategies)")
        })?),
        None => None,
    };
    let subset = match get(SampleField::Subset) {
        Some((col, v)) => Subset::parse_loose(&v).ok_or_else(|| format!("column '{col}': unknown subset '{v}' (expected G, C or benign)"))?,
        None => match (query_type, image_type) {
            (Some(q), _) if q != QueryType::Plain => Subset::C,
            (_, Some(_)) => Subset::G,
            _ => return Err("cannot tell the subset (no subset column, query type or image type); hint: pass --set subset=G (or C, benign)".into()),
        },
    };
    let query_type = query_type.unwrap_or(if subset == Subset::C {
        QueryType::Template
    } else {
        QueryType::Plain
    });
    let locale = get(SampleField::Locale)
        .map(|x| x.1)
        .unwrap_or_else(|| "ko".into());
    let template_kind = match get(SampleField::TemplateKind) {
        Some((col, v)) => Some(
            serde_json::from_value::<TemplateKind>(serde_json::Value::String(v.to_lowercase()))
                .map_err(|_| format!("column '{col}': unknown template kind '{v}'"))?,
        ),
        None => None,
    };
    let parse_json = |t: SampleField| -> std::result::Result<Option<serde_json::Value>, String> {
        match get(t) {
            Some((col, v)) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|e| format!("column '{col}': not JSON: {e}")),
            None => Ok(None),
        }
    };
    let variables = parse_json(SampleField::Variables)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("variables: {e}"))?;
    let culture = parse_json(SampleField::Culture)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("culture: {e}"))?;
    let provenance = parse_json(SampleField::Provenance)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("provenance: {e}"))?;

    let image = match vals.iter().find(|(t, _, _)| *t == SampleField::Image) {
        None | Some((_, _, Field::Null)) => None,
        Some((_, col, f)) => Some(read_image_field(col, f, base, writer)?),
    };
    let mut s = Sample {
        id: String::new(),
        subset,
        category,
        locale,
        text,
        image,
        image_type,
        query_type,
        template_kind,
        parent_id: get(SampleField::ParentId)
            .map(|x| x.1)
            .filter(|v| !v.is_empty()),
        topic: get(SampleField::Topic)
            .map(|x| x.1)
            .filter(|v| !v.is_empty()),
        variables,
        culture,
        provenance,
    };
    s.id = match get(SampleField::Id) {
        Some((_, v)) if !v.trim().is_empty() => v,
        _ => s.content_id(),
    };
    Ok(s)
}

/// An image column may be the `datasets` struct {bytes, path}, raw bytes, or a path string.
fn read_image_field(
    col: &str,
    f: &Field,
    base: &Path,
    writer: &mut DatasetWriter,
) -> std::result::Result<ImageRef, String> {
    let from_bytes = |b: &[u8], writer: &mut DatasetWriter| {
        writer
            .add_image(b)
            .map_err(|e| format!("column '{col}': {e}"))
    };
    let from_path = |p: &str, writer: &mut DatasetWriter| {
        let path = base.join(p);
        writer
            .add_image_file(&path)
            .map_err(|e| format!("column '{col}': image path '{p}': {e}"))
    };
    match f {
        Field::Bytes(b) => from_bytes(b.data(), writer),
        Field::Str(p) => from_path(p, writer),
        Field::Group(g) => {
            let mut bytes = None;
            let mut path = None;
            for (k, v) in g.get_column_iter() {
                match (k.as_str(), v) {
                    ("bytes", Field::Bytes(b)) => bytes = Some(b.data().to_vec()),
                    ("path", Field::Str(p)) => path = Some(p.clone()),
                    ("path", Field::Bytes(p)) => {
                        path = std::str::from_utf8(p.data()).ok().map(str::to_string)
                    }
                    _ => {}
                }
            }
            match (bytes, path) {
                (Some(b), _) => from_bytes(&b, writer),
                (None, Some(p)) => from_path(&p, writer),
                (None, None) => Err(format!(
                    "column '{col}': image struct has neither bytes nor path"
                )),
            }
        }
        other => Err(format!(
            "column '{col}': expected image bytes, a path or a {{bytes, path}} struct, found {}",
            other
        )),
    }
}

/// Write a table of optional strings (one column per name) as Parquet, in row groups of 4,096.
/// Used to export run responses and verdicts.
pub fn write_string_table(
    path: &Path,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<Option<String>>>,
) -> Result<usize> {
    let pq_err = |e: parquet::errors::ParquetError| DatasetError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let fields: String = columns
        .iter()
        .map(|c| format!("  optional binary {c} (STRING);\n"))
        .collect();
    let schema =
        Arc::new(parse_message_type(&format!("message table {{\n{fields}}}")).map_err(pq_err)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).map_err(|e| DatasetError::io(path, e))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(pq_err)?;
    let mut batch: Vec<Vec<Option<String>>> = Vec::new();
    let mut total = 0;
    let flush = |batch: &mut Vec<Vec<Option<String>>>,
                 writer: &mut SerializedFileWriter<File>|
     -> parquet::errors::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut rg = writer.next_row_group()?;
        let mut c = 0;
        while let Some(mut col) = rg.next_column()? {
            let mut values = Vec::new();
            let mut defs = Vec::new();
            for row in batch.iter() {
                match row.get(c).cloned().flatten() {
                    Some(v) => {
                        values.push(ByteArray::from(v.into_bytes()));
                        defs.push(1);
                    }
                    None => defs.push(0),
                }
            }
            col.typed::<ByteArrayType>()
                .write_batch(&values, Some(&defs), None)?;
            col.close()?;
            c += 1;
        }
        rg.close()?;
        batch.clear();
        Ok(())
    };
    for row in rows {
        batch.push(row);
        total += 1;
        if batch.len() == 4096 {
            flush(&mut batch, &mut writer).map_err(pq_err)?;
        }
    }
    flush(&mut batch, &mut writer).map_err(pq_err)?;
    writer.close().map_err(pq_err)?;
    Ok(total)
}
