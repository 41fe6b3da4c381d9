//! `ksafe diff RUN_A RUN_B`: McNemar's paired test on ASR and the samples that flipped.

use crate::outln;
use anyhow::{Context, Result};
use clap::Args;
use ksafe_eval::analysis::diff;
use ksafe_eval::judge::Combine;
use ksafe_eval::results::JudgeChoice;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `ksafe diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The first run (see `ksafe runs list`).
    pub run_a: String,
    /// The second run, on the same dataset.
    pub run_b: String,
    /// The run store.
    #[arg(long, default_value = "runs.db")]
    pub store: PathBuf,
    /// How several safety judges combine (the paper: OR).
    #[arg(long, value_enum, default_value = "or")]
    pub combine: Combine,
    /// Write every flipped sample (id, category, query type, A, B) to this JSONL file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `ksafe diff`.
pub fn run(a: DiffArgs) -> Result<ExitCode> {
    let store = super::judge::open_store(&a.store)?;
    let choice = JudgeChoice {
        combine: a.combine,
        ..Default::default()
    };
    let d = diff(&store, &a.run_a, &a.run_b, &choice)?.with_context(|| {
        format!(
            "runs {} and {} share no sample scored in both (same dataset?)",
            a.run_a, a.run_b
        )
    })?;
    let m = &d.mcnemar;
    let (asr_a, asr_b) = d.asr();
    outln!("{} vs {} on {} paired samples", a.run_a, a.run_b, d.n);
    outln!("  ASR A {asr_a:.1} %, B {asr_b:.1} %");
    outln!(
        "  unsafe only in A: {}, only in B: {}, both: {}, neither: {}; McNemar p = {:.4}",
        m.a_only,
        m.b_only,
        m.both,
        m.neither,
        m.p_value
    );
    outln!("  flips by category (unsafe→safe, safe→unsafe from A to B):");
    for (k, (ab, ba)) in d.flips_by(|x| x.category.id().to_string()) {
        outln!("    {k:<22} {ab:>5} {ba:>5}");
    }
    outln!("  flips by query type:");
    for (k, (ab, ba)) in d.flips_by(|x| x.query_type.id().to_string()) {
        outln!("    {k:<22} {ab:>5} {ba:>5}");
    }
    if let Some(out) = &a.out {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(out)
                .with_context(|| format!("cannot write {}", out.display()))?,
        );
        for (x, ua, ub) in &d.flips {
            writeln!(
                w,
                "{}",
                serde_json::json!({"sample_id": x.sample_id, "category": x.category.id(), "query_type": x.query_type.id(), "unsafe_a": ua, "unsafe_b": ub})
            )?;
        }
        w.flush()?;
        eprintln!(
            "wrote {} flipped samples to {}",
            d.flips.len(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
