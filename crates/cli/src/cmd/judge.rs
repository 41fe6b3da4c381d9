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
    /// For `ksafe judge agreement RUN`: a JSONL of human labels (`sample_id` or `id`, and
    /// `unsafe`: true/false or `label`: "unsafe"/"safe") to compare every judge against.
    #[arg(long)]
    pub human: Option<PathBuf>,
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
    if a.runs.first().map(String::as_str) == Some("agreement") {
        return agreement(&a);
    }
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
    ksafe_report::plots::register_font(ksafe_build::render::font::REGULAR);
    let browser = browser_items(&a.store, &data)?;
    let extra = guard_section(&a.store)?;
    let tables = ksafe_report::write_all(&data, &browser, &extra, &a.out)
        .with_context(|| format!("cannot write the report into {}", a.out.display()))?;
    // the main table on the terminal
    let main = &tables[0];
    println!(
        "{:<44} {}   Over-refusal",
        main.row_header,
        main.columns[..4].join("   ")
    );
    for (name, cells) in &main.rows {
        println!(
            "{:<44} {}",
            name,
            cells[..4]
                .iter()
                .chain(cells.get(5))
                .map(|c| format!("{:>5}", c.short()))
                .collect::<Vec<_>>()
                .join("   ")
        );
    }
    eprintln!("report written to {}/report.html (and summary.md, summary.json, CSV tables, PNG/SVG plots)", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// The unsafe responses of each run (at most 25 per run) for the report's sample browser.
fn browser_items(
    store_path: &std::path::Path,
    runs: &[ksafe_core::metrics::RunData],
) -> Result<Vec<ksafe_report::html::BrowserItem>> {
    use ksafe_core::metrics::Tri;
    let store = Store::open(store_path)?;
    let mut out = Vec::new();
    for r in runs {
        let wanted: std::collections::HashSet<&str> = r
            .judged
            .iter()
            .filter(|j| j.unsafe_ == Tri::Yes)
            .take(25)
            .map(|j| j.sample_id.as_str())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let responses: std::collections::HashMap<String, String> = store
            .responses(&r.run_id)?
            .into_iter()
            .filter_map(|x| x.text.map(|t| (x.sample_id, t)))
            .collect();
        let mut verdicts: std::collections::HashMap<String, Vec<(String, String, String)>> =
            std::collections::HashMap::new();
        for j in store.judgments(&r.run_id)? {
            if wanted.contains(j.sample_id.as_str()) {
                let v = match j.verdict {
                    Tri::Yes => {
                        if j.kind == ksafe_eval::judge::Kind::Safety {
                            "unsafe"
                        } else {
                            "refused"
                        }
                    }
                    Tri::No => {
                        if j.kind == ksafe_eval::judge::Kind::Safety {
                            "safe"
                        } else {
                            "not refused"
                        }
                    }
                    Tri::Unscored => "unscored",
                };
                let class = match j.verdict {
                    Tri::Yes => "yes",
                    Tri::No => "no",
                    Tri::Unscored => "unscored",
                };
                verdicts.entry(j.sample_id.clone()).or_default().push((
                    format!("{} ({})", j.judge, j.kind.id()),
                    format!("{class}:{v}"),
                    j.detail.clone(),
                ));
            }
        }
        let ds = ksafe_core::Dataset::open(std::path::Path::new(&r.dataset))?;
        for item in ds.samples()? {
            let (_, s) = item?;
            if !wanted.contains(s.id.as_str()) {
                continue;
            }
            let image = s
                .image
                .as_ref()
                .and_then(|i| ds.image_path(i).ok())
                .and_then(|p| ksafe_report::html::thumbnail(&p));
            out.push(ksafe_report::html::BrowserItem {
                run_id: r.run_id.clone(),
                sample_id: s.id.clone(),
                category: s.category.label().to_string(),
                query_type: s.query_type.label().to_string(),
                image_type: s.image_type.map(|t| t.id().to_string()).unwrap_or_default(),
                query: s.text.clone(),
                response: responses.get(&s.id).cloned().unwrap_or_default(),
                image,
                verdicts: verdicts.remove(&s.id).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// `ksafe judge agreement RUN…`: Cohen's kappa between every pair of safety judges of a run (on
/// the samples both scored), and of each judge against human labels if given.
fn agreement(a: &JudgeArgs) -> Result<ExitCode> {
    use ksafe_core::metrics::{cohen_kappa, Tri};
    let runs = &a.runs[1..];
    if runs.is_empty() {
        bail!("usage: ksafe judge agreement RUN… [--human labels.jsonl]");
    }
    let store = Store::open(&a.store)?;
    let mut human: std::collections::HashMap<String, Tri> = std::collections::HashMap::new();
    if let Some(h) = &a.human {
        let text =
            std::fs::read_to_string(h).with_context(|| format!("cannot read {}", h.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not JSON", h.display(), i + 1))?;
            let id = v
                .get("sample_id")
                .or_else(|| v.get("id"))
                .and_then(|x| x.as_str())
                .with_context(|| format!("{}:{}: missing sample_id", h.display(), i + 1))?;
            let label = match (
                v.get("unsafe").and_then(|x| x.as_bool()),
                v.get("label").and_then(|x| x.as_str()),
            ) {
                (Some(b), _) => Tri::from_bool(b),
                (None, Some("unsafe")) => Tri::Yes,
                (None, Some("safe")) => Tri::No,
                _ => bail!(
                    "{}:{}: expected \"unsafe\": true/false or \"label\": \"unsafe\"/\"safe\"",
                    h.display(),
                    i + 1
                ),
            };
            human.insert(id.to_string(), label);
        }
    }
    for run in runs {
        let js = store.judgments(run)?;
        let mut by: std::collections::BTreeMap<String, std::collections::HashMap<String, Tri>> =
            Default::default();
        for j in js
            .iter()
            .filter(|j| j.kind == ksafe_eval::judge::Kind::Safety)
        {
            by.entry(j.judge.clone())
                .or_default()
                .insert(j.sample_id.clone(), j.verdict);
        }
        if by.is_empty() {
            bail!("run {run} has no safety verdicts (run `ksafe judge {run}` first)");
        }
        println!("run {run}");
        let names: Vec<&String> = by.keys().collect();
        for (i, x) in names.iter().enumerate() {
            for y in &names[i + 1..] {
                let pairs = by[*x]
                    .iter()
                    .filter_map(|(id, v)| by[*y].get(id).map(|w| (*v, *w)));
                match cohen_kappa(pairs) {
                    Some((k, n)) => println!("  {x} vs {y}: kappa {k:.3} on {n} samples"),
                    None => println!("  {x} vs {y}: no sample scored by both"),
                }
            }
            if !human.is_empty() {
                let pairs = human
                    .iter()
                    .filter_map(|(id, h)| by[*x].get(id).map(|v| (*h, *v)));
                let pairs: Vec<(Tri, Tri)> = pairs.collect();
                let agree = pairs
                    .iter()
                    .filter(|(h, v)| h == v && *v != Tri::Unscored)
                    .count();
                let scored = pairs.iter().filter(|(_, v)| *v != Tri::Unscored).count();
                match cohen_kappa(pairs.into_iter()) {
                    Some((k, n)) => println!(
                        "  {x} vs human: kappa {k:.3}, agreement {:.1} % on {n} samples",
                        100.0 * agree as f64 / scored.max(1) as f64
                    ),
                    None => println!("  {x} vs human: no labelled sample was scored"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct DiffArgs {
    pub run_a: String,
    pub run_b: String,
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    #[arg(long, value_enum, default_value = "or")]
    pub combine: CombineArg,
    /// Write every flipped sample (id, category, query type, A, B) to this JSONL file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `ksafe diff RUN_A RUN_B`: McNemar's paired test on ASR and the samples that flipped.
pub fn run_diff(a: DiffArgs) -> Result<ExitCode> {
    use ksafe_core::metrics::{mcnemar, Tri};
    let sel = Selection {
        combine: match a.combine {
            CombineArg::Or => Combine::Or,
            CombineArg::And => Combine::And,
            CombineArg::Majority => Combine::Majority,
        },
        ..Default::default()
    };
    let ra = load_run(&a.store, &a.run_a, &sel)?;
    let rb = load_run(&a.store, &a.run_b, &sel)?;
    let b: std::collections::HashMap<&str, &ksafe_core::metrics::Judged> = rb
        .judged
        .iter()
        .map(|j| (j.sample_id.as_str(), j))
        .collect();
    let mut pairs = Vec::new();
    let mut flips: Vec<(&ksafe_core::metrics::Judged, bool, bool)> = Vec::new();
    for x in &ra.judged {
        let Some(y) = b.get(x.sample_id.as_str()) else {
            continue;
        };
        if x.unsafe_ == Tri::Unscored || y.unsafe_ == Tri::Unscored {
            continue;
        }
        let (ua, ub) = (x.unsafe_ == Tri::Yes, y.unsafe_ == Tri::Yes);
        pairs.push((ua, ub));
        if ua != ub {
            flips.push((x, ua, ub));
        }
    }
    if pairs.is_empty() {
        bail!(
            "runs {} and {} share no sample scored in both (same dataset?)",
            a.run_a,
            a.run_b
        );
    }
    let m = mcnemar(pairs.iter().copied());
    let n = pairs.len();
    println!("{} vs {} on {n} paired samples", a.run_a, a.run_b);
    println!(
        "  ASR A {:.1} %, B {:.1} %",
        100.0 * (m.a_only + m.both) as f64 / n as f64,
        100.0 * (m.b_only + m.both) as f64 / n as f64
    );
    println!(
        "  unsafe only in A: {}, only in B: {}, both: {}, neither: {}; McNemar p = {:.4}",
        m.a_only, m.b_only, m.both, m.neither, m.p_value
    );
    let mut by_cat: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut by_q: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (x, ua, _) in &flips {
        let e = by_cat.entry(x.category.id().to_string()).or_default();
        if *ua {
            e.0 += 1
        } else {
            e.1 += 1
        }
        let e = by_q.entry(x.query_type.id().to_string()).or_default();
        if *ua {
            e.0 += 1
        } else {
            e.1 += 1
        }
    }
    println!("  flips by category (unsafe→safe, safe→unsafe from A to B):");
    for (k, (ab, ba)) in &by_cat {
        println!("    {k:<22} {ab:>5} {ba:>5}");
    }
    println!("  flips by query type:");
    for (k, (ab, ba)) in &by_q {
        println!("    {k:<22} {ab:>5} {ba:>5}");
    }
    if let Some(out) = &a.out {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?,
        );
        for (x, ua, ub) in &flips {
            writeln!(
                w,
                "{}",
                serde_json::json!({"sample_id": x.sample_id, "category": x.category.id(), "query_type": x.query_type.id(), "unsafe_a": ua, "unsafe_b": ub})
            )?;
        }
        eprintln!("wrote {} flipped samples to {}", flips.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The guardrail evaluations in the store, as an HTML section.
fn guard_section(store: &std::path::Path) -> Result<Vec<ksafe_report::html::Section>> {
    use ksafe_eval::guard::{all_results, stream_stats, Confusion};
    let results = all_results(store)?;
    if results.is_empty() {
        return Ok(Vec::new());
    }
    let pct = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into());
    let esc = ksafe_report::html::esc;
    let mut h = String::from("<table><thead><tr><th>Guard</th><th>Mode</th><th>Guardrail ASR</th><th>False-positive rate</th><th>Precision</th><th>Recall</th><th>F1</th><th>n</th><th>Streaming: detected / flagged, mean time to detect (chars)</th></tr></thead><tbody>");
    for (g, m, rows) in &results {
        let c = Confusion::of(rows.iter());
        let stream = if m.starts_with("stream") {
            let s = stream_stats(rows);
            format!(
                "{} / {}, {}",
                s.detected,
                s.flagged_full,
                pct(s.mean_ttd_chars)
            )
        } else {
            "–".into()
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(g), esc(m), pct(c.guardrail_asr()), pct(c.fpr()), pct(c.precision()), pct(c.recall()), pct(c.f1()), rows.len(), esc(&stream)
        ));
    }
    h.push_str("</tbody></table><p class=\"note\">Guardrail ASR = unsafe items the guard passed as safe (the paper's Table 12); the false-positive rate is over safe items (benign prompts, or responses the judges found safe).</p>");
    Ok(vec![("Guardrails".to_string(), h)])
}
