//! `ksafe judge` and `ksafe report`.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use ksafe_eval::judge::{judge_items, judge_runs, Combine, JudgeItem, JudgeRunOptions, JudgeSpec};
use ksafe_eval::results::{load_run, Selection};
use ksafe_eval::store::{Status, Store};
use ksafe_providers::TargetSpec;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum JudgeKind {
    /// Offline Korean/English/Japanese lexicon judge (safety and refusal); says when it cannot decide.
    Heuristic,
    /// The KSAFE-MM protocol: a safety judge (G0–G3) per --judge-model, plus a refusal judge.
    Paper,
    /// A guardrail model (--guard-model) as safety judge: Llama Guard, SafetyGuard or Kanana style.
    Guard,
}

#[derive(Args, Clone)]
pub struct JudgeArgs {
    /// Runs to judge (default: every run in the store).
    pub runs: Vec<String>,
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Judges to run (repeatable).
    #[arg(long = "judge", value_enum, default_values_t = vec![JudgeKind::Heuristic])]
    pub judges: Vec<JudgeKind>,
    /// A model for the paper's safety judge (repeatable; the paper used two, combined with OR).
    #[arg(long = "judge-model")]
    pub judge_models: Vec<String>,
    /// The model for the refusal judge (default: the first --judge-model).
    #[arg(long)]
    pub refusal_model: Option<String>,
    /// The guardrail model for --judge guard.
    #[arg(long)]
    pub guard_model: Option<String>,
    /// Base URL for the judge models (OpenAI-compatible servers).
    #[arg(long)]
    pub judge_base_url: Option<String>,
    /// Environment variable holding the judges' API key.
    #[arg(long)]
    pub judge_api_key_env: Option<String>,
    /// Show the judge the request as well as the response (the paper's prompt has the response only).
    #[arg(long)]
    pub with_query: bool,
    #[arg(long, default_value_t = 16)]
    pub judge_concurrency: usize,
    /// Judge responses produced elsewhere: a JSONL file with `id` and `response` (optional
    /// `query`) per line. Verdicts go to --out instead of the store.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output JSONL for --input.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl JudgeArgs {
    pub fn specs(&self) -> Result<Vec<JudgeSpec>> {
        let target = |t: &str| {
            TargetSpec::parse(
                t,
                self.judge_base_url.as_deref(),
                self.judge_api_key_env.as_deref(),
            )
        };
        let mut out = Vec::new();
        for j in &self.judges {
            match j {
                JudgeKind::Heuristic => out.push(JudgeSpec::Heuristic),
                JudgeKind::Paper => {
                    if self.judge_models.is_empty() {
                        bail!("--judge paper needs at least one --judge-model (e.g. openai-api/local/Qwen3-235B with --judge-base-url)");
                    }
                    for m in &self.judge_models {
                        out.push(JudgeSpec::Safety {
                            target: target(m)?,
                            with_query: self.with_query,
                        });
                    }
                    let r = self
                        .refusal_model
                        .clone()
                        .unwrap_or_else(|| self.judge_models[0].clone());
                    out.push(JudgeSpec::Refusal {
                        target: target(&r)?,
                    });
                }
                JudgeKind::Guard => {
                    let g = self
                        .guard_model
                        .as_deref()
                        .context("--judge guard needs --guard-model")?;
                    out.push(JudgeSpec::Guard { target: target(g)? });
                }
            }
        }
        Ok(out)
    }
}

pub fn run_judge(a: JudgeArgs) -> Result<ExitCode> {
    let specs = a.specs()?;
    let opts = JudgeRunOptions {
        concurrency: a.judge_concurrency.max(1),
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    if let Some(input) = &a.input {
        let out = a
            .out
            .as_ref()
            .context("--input needs --out FILE.jsonl for the verdicts")?;
        let f = std::fs::File::open(input)
            .with_context(|| format!("cannot read {}", input.display()))?;
        let mut items = Vec::new();
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line =
                line.with_context(|| format!("{}:{}: cannot read", input.display(), i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not JSON", input.display(), i + 1))?;
            let id = v
                .get("id")
                .and_then(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .or_else(|| x.as_u64().map(|n| n.to_string()))
                })
                .with_context(|| format!("{}:{}: missing \"id\"", input.display(), i + 1))?;
            let response = v
                .get("response")
                .and_then(|x| x.as_str())
                .with_context(|| {
                    format!(
                        "{}:{}: missing \"response\" (a string)",
                        input.display(),
                        i + 1
                    )
                })?;
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
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?,
        );
        let rows = std::sync::Mutex::new(Vec::new());
        for spec in &specs {
            rt.block_on(judge_items(spec, items.clone(), &opts, &|j| {
                rows.lock().unwrap().push(j)
            }))?;
        }
        let mut rows = rows.into_inner().unwrap();
        rows.sort_by(|a, b| {
            (&a.sample_id, &a.judge, a.kind).cmp(&(&b.sample_id, &b.judge, b.kind))
        });
        for r in &rows {
            writeln!(
                w,
                "{}",
                serde_json::json!({"id": r.sample_id, "judge": r.judge, "kind": r.kind, "verdict": r.verdict, "detail": r.detail, "judge_model": r.judge_model, "prompt_hash": r.prompt_hash})
            )?;
        }
        w.flush()?;
        eprintln!(
            "wrote {} verdicts for {} responses to {}",
            rows.len(),
            items.len(),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !a.store.is_file() {
        bail!(
            "{}: no run store here (run `ksafe eval` first, or pass --store)",
            a.store.display()
        );
    }
    let runs = if a.runs.is_empty() {
        Store::open(&a.store)?
            .runs()?
            .into_iter()
            .map(|r| r.run_id)
            .collect()
    } else {
        a.runs.clone()
    };
    let done = rt.block_on(judge_runs(&a.store, &runs, &specs, &opts))?;
    for (what, n) in done {
        eprintln!("{what}: {n} new verdicts");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CombineArg {
    Or,
    And,
    Majority,
}

#[derive(Args, Clone)]
pub struct ReportArgs {
    /// Runs to report (default: every judged run in the store).
    pub runs: Vec<String>,
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// Output directory: summary.md, summary.json and one CSV per table.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
    /// How safety judges combine (the paper: OR).
    #[arg(long, value_enum, default_value = "or")]
    pub combine: CombineArg,
    /// Safety judges to combine, by id (default: every model judge, else the heuristic).
    #[arg(long = "safety-judge")]
    pub safety_judges: Vec<String>,
    /// Refusal judge by id (default: a model refusal judge, else the heuristic).
    #[arg(long)]
    pub refusal_judge: Option<String>,
}

pub fn run_report(a: ReportArgs) -> Result<ExitCode> {
    if !a.store.is_file() {
        bail!(
            "{}: no run store here (run `ksafe eval` and `ksafe judge` first, or pass --store)",
            a.store.display()
        );
    }
    let store = Store::open(&a.store)?;
    let runs = if a.runs.is_empty() {
        store.runs()?.into_iter().map(|r| r.run_id).collect()
    } else {
        a.runs.clone()
    };
    let sel = Selection {
        safety_judges: a.safety_judges.clone(),
        combine: match a.combine {
            CombineArg::Or => Combine::Or,
            CombineArg::And => Combine::And,
            CombineArg::Majority => Combine::Majority,
        },
        refusal_judge: a.refusal_judge.clone(),
    };
    let mut data = Vec::new();
    for r in &runs {
        let d = load_run(&a.store, r, &sel)?;
        if d.safety_judges.is_empty() {
            eprintln!("note: run {r} has no verdicts yet (run `ksafe judge {r}`); skipped");
            continue;
        }
        data.push(d);
    }
    if data.is_empty() {
        bail!("no judged run to report (run `ksafe judge` first)");
    }
    let tables = ksafe_report::write_all(&data, &a.out)
        .with_context(|| format!("cannot write the report into {}", a.out.display()))?;
    // the main table on the terminal
    let main = &tables[0];
    println!("{:<44} {}", main.row_header, main.columns[..4].join("   "));
    for (name, cells) in &main.rows {
        println!(
            "{:<44} {}",
            name,
            cells[..4]
                .iter()
                .map(|c| format!("{:>5}", c.short()))
                .collect::<Vec<_>>()
                .join("   ")
        );
    }
    eprintln!("report written to {}/summary.md", a.out.display());
    Ok(ExitCode::SUCCESS)
}
