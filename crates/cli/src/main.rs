//! `ksafe`: build, run and report culturally grounded multimodal safety benchmarks.
//!
//! The binary is argument parsing and wiring only; the work is done by the library crates.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Culturally grounded multimodal safety evaluation (KSAFE-MM and friends).
#[derive(Parser)]
#[command(
    name = "ksafe",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes every command uses, shown under `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  success: every selected sample answered (or blocked by the provider's own filter)
  1  the command ran and found problems (an invalid dataset)
  2  usage or input error (one line per cause, naming the file, line or sample)
  3  a run finished, but some samples failed (their count is printed; --retry-errors asks again)
  4  a run was stopped: its target cannot be used (refused key, missing model, nothing listening)";

#[derive(Subcommand)]
enum Command {
    /// Build (if the dataset is missing) → evaluate → judge → report, in one command.
    ///
    /// With no --target this is a dry run on built-in defaults: it builds the lite Korean
    /// benchmark offline, runs the mock targets (refuse, random, comply — not models) and judges
    /// them with the offline heuristic, so the whole flow and its report can be seen on a fresh
    /// machine. With --target (and --judge-model for the paper's judges) it measures real models.
    ///
    /// Examples:
    ///   ksafe run
    ///   ksafe run --profile full --target openai-api/local/Qwen3-VL-8B \
    ///       --base-url http://127.0.0.1:8000/v1 \
    ///       --judge-model openai-api/j/Qwen3-235B --judge-base-url http://127.0.0.1:8001/v1
    #[command(verbatim_doc_comment)]
    Run(Box<cmd::run::RunArgs>),
    /// Build a benchmark for a locale with the general-to-local pipeline (offline by default).
    ///
    /// KSAFE-MM-G: generic seeds → contextual / non-contextual selection → culture-phrase
    /// substitution → translation → images in three types (I scene, T typography, IT both).
    /// KSAFE-MM-C: culture-specific topics → five variables → template query → image → the 10
    /// jailbreak rewrites (11 queries per image). Privacy, near-duplicate text and near-duplicate
    /// image filters drop items and list them in filter_report.jsonl.
    ///
    /// Examples:
    ///   ksafe build --locale ko --out ksafe-ko              # the paper's full structure
    ///   ksafe build --locale ko --profile lite --out lite   # ~10 seeds per category, seconds
    #[command(verbatim_doc_comment)]
    Build(cmd::build::BuildArgs),
    /// Run one or more targets over a dataset, resumably, within rate limits.
    ///
    /// Each (target, dataset, parameters, selection) is one run in the store; re-running the same
    /// command continues where it stopped (also after kill -9), asking nothing twice. Transient
    /// failures (429, 5xx, timeouts) are retried with backoff honouring Retry-After; a repeated
    /// identical failure or the attempt cap ends a sample as failed, with its reason stored.
    ///
    /// Examples:
    ///   ksafe eval --dataset ksafe-lite --target mock/refuse
    ///   ksafe eval --dataset ksafe-ko --target openai-api/local/Qwen3-VL-8B \
    ///       --base-url http://127.0.0.1:8000/v1 --concurrency 64
    ///   ksafe eval --dataset ksafe-ko --target openai/gpt-5-nano --rpm 500 --subset C --limit 200
    #[command(verbatim_doc_comment)]
    Eval(Box<cmd::eval::EvalArgs>),
    /// Say what an evaluation will cost before running it: requests, tokens, image payload, ETA.
    Plan(Box<cmd::eval::PlanArgs>),
    /// Judge stored responses (or a JSONL of responses produced elsewhere) without regenerating
    /// them: the paper's safety + refusal judges, a guardrail model, or the offline heuristic.
    /// Every verdict is safe / unsafe / unscored-with-a-reason; per-judge verdicts are kept, so
    /// judges can be compared on identical transcripts and combined at report time.
    ///
    /// Examples:
    ///   ksafe judge --judge heuristic
    ///   ksafe judge RUN --judge paper --judge-model openai-api/j/Qwen3-235B \
    ///       --judge-model openai/gpt-5-nano --judge-base-url http://127.0.0.1:8001/v1
    ///   ksafe judge --input responses.jsonl --judge heuristic --out verdicts.jsonl
    ///   ksafe judge agreement RUN --human labels.jsonl
    #[command(verbatim_doc_comment)]
    Judge(Box<cmd::judge::JudgeArgs>),
    /// The paper's tables for judged runs: ASR and refusal by subset, category, query type and
    /// image type, with 95 % intervals, as Markdown, JSON and CSV.
    Report(cmd::report::ReportArgs),
    /// Compare two runs on the same samples: McNemar's paired test on ASR, and the samples that
    /// flipped safe ↔ unsafe, by category and query type.
    Diff(cmd::diff::DiffArgs),
    /// Evaluate a guardrail model: on prompts (input guarding), on a run's responses (output
    /// guarding) or on growing prefixes of them (streaming): Guardrail ASR, false-positive rate,
    /// precision / recall / F1 by category and strategy, time to detect.
    Guard(cmd::guard::GuardArgs),
    /// List, show and export the runs in a store.
    #[command(subcommand)]
    Runs(cmd::runs::RunsCommand),
    /// Inspect, validate, import and export benchmark datasets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Render typography images, image+typography composites and scene cards.
    #[command(subcommand)]
    Render(cmd::render::RenderCommand),
}

/// Whether an error is a closed standard output (`ksafe … | head`): the reader has what it
/// wanted, so the command ends quietly.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(a) => cmd::build::run(a),
        Command::Run(a) => cmd::run::run(*a),
        Command::Data(c) => cmd::data::run(c),
        Command::Eval(a) => cmd::eval::run_eval(*a),
        Command::Plan(a) => cmd::eval::run_plan(*a),
        Command::Runs(c) => cmd::runs::run(c),
        Command::Judge(a) => cmd::judge::run(*a),
        Command::Report(a) => cmd::report::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Guard(a) => cmd::guard::run(a),
        Command::Render(c) => cmd::render::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line per cause: what happened first, then why.
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
