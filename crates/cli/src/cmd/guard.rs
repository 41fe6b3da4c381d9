//! `ksafe guard`: evaluate a guardrail model on prompts, responses, or streamed responses.

use anyhow::{bail, Result};
use clap::Args;
use ksafe_core::metrics::Tri;
use ksafe_eval::guard::{
    guard_categories, run_guard, stream_stats, Confusion, GuardConfig, GuardMode, GuardRow,
    GuardSchema,
};
use ksafe_providers::TargetSpec;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct GuardArgs {
    /// The guardrail model (provider/model): Llama Guard style (`safe` / `unsafe` + S-codes),
    /// KT SafetyGuard (`<SAFE>` / `<UNSAFE>`), Kanana Safeguard (`<UNSAFE-S4>`).
    #[arg(long)]
    pub guard_model: String,
    #[arg(long)]
    pub base_url: Option<String>,
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Input guarding: classify this dataset's prompts (G and C are unsafe, benign is safe).
    #[arg(long, conflicts_with = "run")]
    pub dataset: Option<PathBuf>,
    /// Output guarding: classify this run's responses (the judges' combined verdicts are the
    /// reference).
    #[arg(long)]
    pub run: Option<String>,
    /// With --run: feed each response in growing prefixes and record the first flagged prefix.
    #[arg(long, requires = "run")]
    pub stream: bool,
    /// Prefix step in characters for --stream.
    #[arg(long, default_value_t = 100)]
    pub step: usize,
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Single-token guards (KT SafetyGuard): score with the first token's log-probabilities and
    /// call an item unsafe when P(<UNSAFE>) reaches this threshold (the paper's τ = 0.5). Needs a
    /// server that returns logprobs.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// The guard's category schema, for mapping its categories onto the KT taxonomy.
    #[arg(long, value_enum, default_value = "llama-guard")]
    pub schema: SchemaArg,
    /// Write guard.md and guard.json into this directory.
    #[arg(long, default_value = "ksafe-report")]
    pub out: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SchemaArg {
    /// `unsafe` + S1…S14 (Llama Guard 3).
    LlamaGuard,
    /// `<UNSAFE-S1>`…`<UNSAFE-S7>` (Kakao Kanana Safeguard).
    Kanana,
    /// `<SAFE>` / `<UNSAFE>` (KT SafetyGuard), no categories.
    Safetyguard,
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into())
}

pub fn run(a: GuardArgs) -> Result<ExitCode> {
    let mode = match (&a.dataset, &a.run, a.stream) {
        (Some(d), None, _) => GuardMode::Input { dataset: d.clone() },
        (None, Some(r), false) => GuardMode::Output { run_id: r.clone() },
        (None, Some(r), true) => GuardMode::Stream { run_id: r.clone(), step: a.step.max(1) },
        _ => bail!("give --dataset DIR (input guarding) or --run RUN (output guarding, with --stream for prefixes)"),
    };
    let cfg = GuardConfig {
        store: a.store.clone(),
        guard: TargetSpec::parse(
            &a.guard_model,
            a.base_url.as_deref(),
            a.api_key_env.as_deref(),
        )?,
        mode: mode.clone(),
        concurrency: a.concurrency.max(1),
        timeout: Duration::from_secs(120),
        threshold: a.threshold,
    };
    let schema = match a.schema {
        SchemaArg::LlamaGuard => GuardSchema::LlamaGuard,
        SchemaArg::Kanana => GuardSchema::Kanana,
        SchemaArg::Safetyguard => GuardSchema::SafetyGuard,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let rows = rt.block_on(run_guard(&cfg))?;
    let c = Confusion::of(rows.iter());
    let mut md = format!(
        "## Guardrail: {} ({})\n\n",
        a.guard_model,
        match &mode {
            GuardMode::Input { dataset } => format!("input guarding on {}", dataset.display()),
            GuardMode::Output { run_id } => format!("output guarding on run {run_id}"),
            GuardMode::Stream { run_id, step } => format!(
                "streaming output guarding on run {run_id}, prefixes every {step} characters"
            ),
        }
    );
    let _ = writeln!(md, "| Guardrail ASR (unsafe passed as safe) | False-positive rate | Precision | Recall | F1 | TP | FN | FP | TN | unscored |\n|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        pct(c.guardrail_asr()),
        pct(c.fpr()),
        pct(c.precision()),
        pct(c.recall()),
        pct(c.f1()),
        c.tp,
        c.fn_,
        c.fp,
        c.tn,
        c.unscored
    );
    let group = |key: &dyn Fn(&GuardRow) -> String| {
        let mut m: BTreeMap<String, Vec<&GuardRow>> = BTreeMap::new();
        for r in &rows {
            m.entry(key(r)).or_default().push(r);
        }
        m
    };
    for (title, g) in [
        ("category", group(&|r| r.category.id().to_string())),
        ("query type", group(&|r| r.query_type.id().to_string())),
    ] {
        let _ = writeln!(
            md,
            "| by {title} | Guardrail ASR | FPR | F1 | n |\n|---|---|---|---|---|"
        );
        for (k, v) in g {
            let c = Confusion::of(v.iter().copied());
            let _ = writeln!(
                md,
                "| {k} | {} | {} | {} | {} |",
                pct(c.guardrail_asr()),
                pct(c.fpr()),
                pct(c.f1()),
                v.len()
            );
        }
        md.push('\n');
    }
    // the guard's own categories, mapped onto the KT taxonomy, against the sample's category
    if schema != GuardSchema::SafetyGuard {
        let flagged: Vec<&GuardRow> = rows.iter().filter(|r| r.verdict == Tri::Yes).collect();
        let mapped = flagged
            .iter()
            .filter(|r| !guard_categories(schema, &r.detail).is_empty())
            .count();
        let agree = flagged
            .iter()
            .filter(|r| guard_categories(schema, &r.detail).contains(&r.category))
            .count();
        let _ = writeln!(md, "Of {} flagged items, {} carry categories that map onto the KT taxonomy, and {} name the sample's own category.\n", flagged.len(), mapped, agree);
    }
    let stream = matches!(mode, GuardMode::Stream { .. }).then(|| stream_stats(&rows));
    if let Some(s) = &stream {
        let _ = writeln!(
            md,
            "Streaming: {} of {} responses flagged on the full text were caught at a prefix; time to detect: mean {} characters, median {}; flagged at a prefix but safe in full: {}; flagged only in full: {}.\n",
            s.detected, s.flagged_full, pct(s.mean_ttd_chars), pct(s.median_ttd_chars), s.prefix_only, s.full_only
        );
    }
    print!("{md}");
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(a.out.join("guard.md"), &md)?;
    let json = serde_json::json!({
        "guard": a.guard_model, "mode": format!("{mode:?}"), "confusion": c,
        "guardrail_asr": c.guardrail_asr(), "fpr": c.fpr(), "precision": c.precision(), "recall": c.recall(), "f1": c.f1(),
        "stream": stream, "unscored": rows.iter().filter(|r| r.verdict == Tri::Unscored).count(),
    });
    std::fs::write(
        a.out.join("guard.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}/guard.md and guard.json", a.out.display());
    Ok(ExitCode::SUCCESS)
}
