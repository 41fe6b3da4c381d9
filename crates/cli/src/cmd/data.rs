//! `ksafe data …`: validate, stats, show, import, export.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use ksafe_core::mmsb::{import_mmsb, MmsbOptions, QuestionField};
use ksafe_core::parquet_io::{
    export_parquet, import_parquet, parse_map, parse_set, ImportOptions, SampleField,
};
use ksafe_core::validate::{validate, ValidateOptions};
use ksafe_core::{Category, Counts, Dataset, ImageType, QueryType, Subset};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Check a dataset and report every problem with its file, line and field.
    ///
    /// Checks: JSON and UTF-8 of every line, required fields, known category / subset / image
    /// type / query type, empty text, duplicate ids, jailbreak variants whose parent is missing,
    /// missing or unreadable images, image and file hashes against the manifest, manifest
    /// counts. Exits 1 if any error is found.
    Validate {
        /// Dataset directory (or a samples .jsonl file).
        dataset: PathBuf,
        /// Skip re-hashing images and files (faster on large datasets).
        #[arg(long)]
        no_hash: bool,
        /// Print at most this many problems.
        #[arg(long, default_value_t = 50)]
        max: usize,
    },
    /// Rewrite the manifest of a dataset you edited on purpose (samples added, removed or
    /// changed): recount the samples and rehash every file, so `ksafe eval` accepts it again.
    Reindex {
        /// Dataset directory.
        dataset: PathBuf,
    },
    /// Print sample counts by subset, category, query type and image type.
    Stats {
        dataset: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Print samples (as JSON lines, or readable with --pretty), with optional filters.
    Show {
        dataset: PathBuf,
        /// Only samples with this id.
        #[arg(long)]
        id: Option<String>,
        /// Only this subset (G, C, benign).
        #[arg(long)]
        subset: Option<String>,
        /// Only this category (id or label, e.g. privacy, "Copyright").
        #[arg(long)]
        category: Option<String>,
        /// Only this query type (template, plain, SudoMode …).
        #[arg(long)]
        query_type: Option<String>,
        /// Only this image type (I, T, IT).
        #[arg(long)]
        image_type: Option<String>,
        /// Print at most N samples.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Human-readable output instead of JSON lines.
        #[arg(long)]
        pretty: bool,
    },
    /// Import a dataset from Parquet (Hugging Face layout, the official KSAFE-MM release, or any
    /// schema via --map) or from an MM-SafetyBench directory.
    ///
    /// Column names are guessed (text/query/question/prompt → text, category/risk_category →
    /// category, image/img → image, jailbreak_type/attack_type → query_type …); --map overrides
    /// a guess and --set supplies a constant for a field the file lacks. If a required field
    /// cannot be found, the error lists the columns in the file.
    ///
    /// Examples:
    ///   ksafe data import --from parquet train.parquet --out ds/
    ///   ksafe data import --from parquet c.parquet --map prompt=text --map risk=category \
    ///       --set subset=C --out ds/
    ///   ksafe data import --from mm-safetybench ./MM-SafetyBench/data --out mmsb/
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Export a dataset directory to Parquet in the Hugging Face `datasets` layout (image column
    /// as struct {bytes, path}; loads with `datasets.load_dataset("parquet", …)`).
    Export {
        dataset: PathBuf,
        /// Output .parquet file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ImportFormat {
    /// One or more .parquet files.
    Parquet,
    /// An MM-SafetyBench data directory (processed_questions/ and imgs/).
    MmSafetybench,
    /// An OR-Bench CSV (prompt, category): benign, text-only, for the over-refusal axis.
    OrBench,
}

#[derive(Args)]
pub struct ImportArgs {
    /// Source format.
    #[arg(long, value_enum)]
    from: ImportFormat,
    /// Input file(s) or directory.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output dataset directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Map a column onto a sample field: COLUMN=FIELD (repeatable). Fields: id, subset,
    /// category, locale, text, image, image_type, query_type, template_kind, parent_id, topic,
    /// variables, culture, provenance, ignore.
    #[arg(long = "map", value_parser = parse_map)]
    map: Vec<(String, SampleField)>,
    /// A constant for a field the file lacks: FIELD=VALUE (repeatable), e.g. subset=C, locale=ko.
    #[arg(long = "set", value_parser = parse_set)]
    set: Vec<(SampleField, String)>,
    /// Dataset name for the manifest.
    #[arg(long)]
    name: Option<String>,
    /// MM-SafetyBench only: which question text to use.
    #[arg(long, value_enum, default_value = "rephrased")]
    question: QuestionField,
}

pub fn run(cmd: DataCommand) -> Result<ExitCode> {
    match cmd {
        DataCommand::Validate {
            dataset,
            no_hash,
            max,
        } => {
            let report = validate(
                &dataset,
                &ValidateOptions {
                    check_hashes: !no_hash,
                    ..Default::default()
                },
            )
            .with_context(|| format!("cannot validate {}", dataset.display()))?;
            for p in report.problems.iter().take(max) {
                eprintln!("{p}");
            }
            if report.problems.len() > max {
                eprintln!(
                    "… and {} more (use --max to see them)",
                    report.problems.len() - max
                );
            }
            let status = if report.is_ok() { "ok" } else { "INVALID" };
            crate::outln!(
                "{status}: {} samples, {} images checked, {} error(s), {} warning(s)",
                report.samples,
                report.images_checked,
                report.errors(),
                report.warnings()
            );
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        DataCommand::Reindex { dataset } => {
            let m = ksafe_core::dataset::reindex(&dataset)?;
            eprintln!(
                "reindexed {}: {} samples, {} files hashed into manifest.json",
                dataset.display(),
                m.counts.total,
                m.files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Stats { dataset, json } => {
            let ds = Dataset::open(&dataset)?;
            let mut counts = Counts::default();
            for item in ds.samples()? {
                let (_, s) = item?;
                counts.add(&s);
            }
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&counts)?);
            } else {
                print_stats(&counts)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Show {
            dataset,
            id,
            subset,
            category,
            query_type,
            image_type,
            limit,
            pretty,
        } => {
            let subset = subset
                .map(|s| {
                    Subset::parse_loose(&s)
                        .with_context(|| format!("unknown subset '{s}' (expected G, C or benign)"))
                })
                .transpose()?;
            let category = category
                .map(|c| {
                    Category::parse_loose(&c).ok_or_else(|| {
                        anyhow::anyhow!("{}", ksafe_core::taxonomy::UnknownCategory(c.clone()))
                    })
                })
                .transpose()?;
            let query_type = query_type
                .map(|q| q.parse::<QueryType>().map_err(anyhow::Error::msg))
                .transpose()?;
            let image_type = image_type
                .map(|t| {
                    ImageType::parse_loose(&t)
                        .with_context(|| format!("unknown image type '{t}' (expected I, T or IT)"))
                })
                .transpose()?;
            let ds = Dataset::open(&dataset)?;
            let mut shown = 0;
            for item in ds.samples()? {
                let (_, s) = item?;
                if id.as_ref().is_some_and(|i| *i != s.id)
                    || subset.is_some_and(|x| x != s.subset)
                    || category.is_some_and(|x| x != s.category)
                    || query_type.is_some_and(|x| x != s.query_type)
                    || image_type.is_some_and(|x| Some(x) != s.image_type)
                {
                    continue;
                }
                if pretty {
                    crate::outln!(
                        "── {}  [{} · {} · {}{}]",
                        s.id,
                        s.subset,
                        s.category.label(),
                        s.query_type.label(),
                        s.image_type.map(|t| format!(" · {t}")).unwrap_or_default()
                    );
                    if let Some(img) = &s.image {
                        crate::outln!("   image: {}", ds.dir.join(&img.path).display());
                    }
                    if let Some(t) = &s.topic {
                        crate::outln!("   topic: {t}");
                    }
                    crate::outln!("   {}\n", s.text.replace('\n', "\n   "));
                } else {
                    crate::outln!("{}", serde_json::to_string(&s)?);
                }
                shown += 1;
                if shown >= limit {
                    break;
                }
            }
            if shown == 0 {
                eprintln!("no sample matches");
            }
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Import(a) => {
            let manifest = match a.from {
                ImportFormat::Parquet => {
                    for f in &a.inputs {
                        if !f.is_file() {
                            bail!("{}: not a file", f.display());
                        }
                    }
                    import_parquet(
                        &a.inputs,
                        &a.out,
                        &ImportOptions {
                            map: a.map,
                            set: a.set,
                            name: a.name,
                        },
                    )?
                }
                ImportFormat::OrBench => {
                    if a.inputs.len() != 1 {
                        bail!("--from or-bench takes one CSV file");
                    }
                    let locale = a
                        .set
                        .iter()
                        .find(|(t, _)| *t == SampleField::Locale)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "en".into());
                    ksafe_core::orbench::import_orbench(&a.inputs[0], &a.out, &locale)?
                }
                ImportFormat::MmSafetybench => {
                    if a.inputs.len() != 1 {
                        bail!("--from mm-safetybench takes one directory");
                    }
                    let question = a.question;
                    import_mmsb(
                        &a.inputs[0],
                        &a.out,
                        &MmsbOptions {
                            question,
                            name: a.name,
                        },
                    )?
                }
            };
            crate::outln!(
                "imported {} samples ({} images) into {}",
                manifest.counts.total,
                manifest.files.len() - 1,
                a.out.display()
            );
            print_stats(&manifest.counts)?;
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Export { dataset, out } => {
            let rows = export_parquet(&dataset, &out)?;
            crate::outln!("wrote {rows} rows to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Print a dataset's counts as a few lines of text.
pub fn print_stats(c: &Counts) -> Result<()> {
    crate::outln!("total: {}", c.total);
    let row = |title: &str, m: &std::collections::BTreeMap<String, u64>| -> Result<()> {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        crate::outln!("{title:<11} {}", parts.join(" · "));
        Ok(())
    };
    row("subset:", &c.subset)?;
    row("image type:", &c.image_type)?;
    row("query type:", &c.query_type)?;
    crate::outln!("category:");
    for cat in Category::ALL {
        let n = c.category.get(cat.id()).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let per: Vec<String> = Subset::ALL
            .iter()
            .filter_map(|s| {
                c.subset_category
                    .get(&format!("{}/{}", s.id(), cat.id()))
                    .map(|v| format!("{} {v}", s.id()))
            })
            .collect();
        crate::outln!("  {:<20} {:>6}   ({})", cat.id(), n, per.join(", "));
    }
    Ok(())
}
