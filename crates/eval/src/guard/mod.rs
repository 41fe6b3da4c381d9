//! `ksafe guard`: a guardrail model evaluated as a classifier — on the benchmark's prompts (input
//! guarding; harmful subsets are the positives, the benign subset the negatives), on a run's
//! stored responses (output guarding; the judges' combined verdicts are the reference), and in
//! streaming mode (growing prefixes every N characters, as KT's Guard Vector work evaluates it:
//! the first flagged prefix gives the time to detect, in characters). Calls go through the
//! executor; rows are stored in the run store and resumed. Scoring the rows is
//! [`ksafe_core::guard_metrics`]'; reading the guard's output is [`schema`]'s.

pub mod schema;

use crate::error::EvalError;
use crate::judge::parse::{parse_guard, Verdict};
use crate::record::{now_utc, GuardRow, Tri};
use crate::results::{load_run, JudgeChoice};
use crate::store::Store;
use ksafe_core::{Dataset, Subset};
use ksafe_providers::exec::{pool_iter, Done, Endpoint, ExecConfig};
use ksafe_providers::{DecodeParams, Request, TargetSpec};
use schema::unsafe_probability;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the guard classifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardMode {
    /// Classify the prompts of a dataset.
    Input {
        /// The dataset.
        dataset: PathBuf,
    },
    /// Classify the responses of a run.
    Output {
        /// The run.
        run_id: String,
    },
    /// Classify the responses of a run in growing prefixes of `step` characters.
    Stream {
        /// The run.
        run_id: String,
        /// Prefix step in characters.
        step: usize,
    },
}

impl GuardMode {
    /// The mode's id in the store.
    pub fn id(&self) -> String {
        match self {
            GuardMode::Input { .. } => "input".into(),
            GuardMode::Output { run_id } => format!("output:{run_id}"),
            GuardMode::Stream { run_id, step } => format!("stream{step}:{run_id}"),
        }
    }
}

/// One guard evaluation.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// The guard model.
    pub guard: TargetSpec,
    /// What it classifies.
    pub mode: GuardMode,
    /// The limits the guard is called under.
    pub exec: ExecConfig,
    /// Single-token guards (KT SafetyGuard): ask for log-probabilities and call the item unsafe
    /// when P(<UNSAFE>) / (P(<SAFE>) + P(<UNSAFE>)) reaches this threshold (the Guard Vector
    /// paper's τ = 0.5). `None` reads the generated text instead.
    pub threshold: Option<f64>,
}

/// The items to classify, with their reference labels.
fn items(store: &Store, cfg: &GuardConfig) -> Result<Vec<(GuardRow, String)>, EvalError> {
    let mut out = Vec::new();
    let row = |s: &str, subset, category, query_type, reference, chars| GuardRow {
        sample_id: s.to_string(),
        subset,
        category,
        query_type,
        reference,
        verdict: Tri::Unscored,
        detail: String::new(),
        first_flag_chars: None,
        text_chars: chars,
        prob: None,
    };
    match &cfg.mode {
        GuardMode::Input { dataset } => {
            let ds = Dataset::open(dataset)?;
            for item in ds.samples()? {
                let (_, s) = item?;
                let reference = if s.subset == Subset::Benign {
                    Tri::No
                } else {
                    Tri::Yes
                };
                let chars = s.text.chars().count() as u64;
                out.push((
                    row(&s.id, s.subset, s.category, s.query_type, reference, chars),
                    s.text,
                ));
            }
        }
        GuardMode::Output { run_id } | GuardMode::Stream { run_id, .. } => {
            let data = load_run(store, run_id, &JudgeChoice::default())?;
            let texts: BTreeMap<String, String> = store
                .responses(run_id)?
                .into_iter()
                .filter_map(|r| r.text.map(|t| (r.sample_id, t)))
                .collect();
            for j in data.judged {
                let Some(t) = texts.get(&j.sample_id) else {
                    continue;
                };
                if t.trim().is_empty() {
                    continue;
                }
                let chars = t.chars().count() as u64;
                out.push((
                    row(
                        &j.sample_id,
                        j.subset,
                        j.category,
                        j.query_type,
                        j.unsafe_,
                        chars,
                    ),
                    t.clone(),
                ));
            }
        }
    }
    Ok(out)
}

/// Char-boundary prefixes every `step` characters, the last one the whole text.
pub fn prefixes(text: &str, step: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let step = step.max(1);
    let mut out: Vec<String> = (1..=chars.len() / step)
        .map(|k| chars[..k * step].iter().collect())
        .collect();
    if !chars.len().is_multiple_of(step) || out.is_empty() {
        out.push(text.to_string());
    }
    out
}

/// What one guard call says about a text: the verdict and, with a threshold, the probability.
async fn classify(
    ep: &Endpoint,
    id: &str,
    text: String,
    input_mode: bool,
    params: &DecodeParams,
    threshold: Option<f64>,
) -> (Verdict, Option<f64>) {
    // input guarding classifies a user turn; output guarding the assistant turn
    let (text, response_to_check) = if input_mode {
        (text, None)
    } else {
        (String::new(), Some(text))
    };
    let req = Request {
        id: id.to_string(),
        text,
        image: None,
        params: params.clone(),
        response_to_check,
    };
    let called = ep.call(&req, 256, &|_| {}).await;
    match called.result {
        Ok(r) => match threshold.map(|tau| (tau, unsafe_probability(&r.top_logprobs))) {
            Some((tau, Some(p))) if p >= tau => (Verdict::yes(format!("p={p:.3}")), Some(p)),
            Some((_, Some(p))) => (Verdict::no(format!("p={p:.3}")), Some(p)),
            _ => (parse_guard(&r.text), None),
        },
        Err(e) => (Verdict::unscored(format!("judge_error: {e}")), None),
    }
}

/// Classify every item not yet stored; returns all rows of this guard and mode.
pub async fn run_guard(store: &Store, cfg: &GuardConfig) -> Result<Vec<GuardRow>, EvalError> {
    let (guard_id, mode_id) = (cfg.guard.name.clone(), cfg.mode.id());
    let done = store.guard_done(&guard_id, &mode_id)?;
    let todo: Vec<(GuardRow, String)> = items(store, cfg)?
        .into_iter()
        .filter(|(r, _)| !done.contains(&r.sample_id))
        .collect();
    let ep = Arc::new(Endpoint::new(cfg.guard.clone(), &cfg.exec)?);
    let threshold = cfg.threshold;
    let params = Arc::new(match threshold {
        Some(_) => DecodeParams {
            temperature: Some(0.0),
            max_tokens: Some(1),
            logprobs: Some(5),
            ..Default::default()
        },
        None => DecodeParams {
            temperature: Some(0.0),
            max_tokens: Some(20),
            ..Default::default()
        },
    });
    let stream_step = match &cfg.mode {
        GuardMode::Stream { step, .. } => Some(*step),
        _ => None,
    };
    let input_mode = matches!(cfg.mode, GuardMode::Input { .. });
    let mut new_rows = Vec::new();
    let mut panicked = 0u64;
    pool_iter(
        todo,
        cfg.exec.concurrency,
        |(r, _)| r.sample_id.clone(),
        |(mut row, text)| {
            let (ep, params) = (ep.clone(), params.clone());
            async move {
                let id = row.sample_id.clone();
                let (full, prob) =
                    classify(&ep, &id, text.clone(), input_mode, &params, threshold).await;
                row.verdict = full.value;
                row.detail = full.detail;
                row.prob = prob;
                if let Some(step) = stream_step {
                    // early termination at the first flagged prefix, as a streaming guard does
                    for p in prefixes(&text, step) {
                        let n = p.chars().count() as u64;
                        let (v, _) = classify(&ep, &id, p, input_mode, &params, threshold).await;
                        if v.value == Tri::Yes {
                            row.first_flag_chars = Some(n);
                            break;
                        }
                    }
                }
                row
            }
        },
        |d| {
            match d {
                Done::Ok(row) => new_rows.push(row),
                Done::Panicked { .. } => panicked += 1,
            }
            true
        },
    )
    .await;
    store.insert_guard_rows(&guard_id, &mode_id, &new_rows, &now_utc())?;
    if panicked > 0 {
        return Err(EvalError::TaskPanicked {
            what: "guard worker",
            message: format!("{panicked} items were not classified"),
        });
    }
    Ok(store.guard_rows(&guard_id, &mode_id)?)
}

/// Every (guard, mode) evaluated in a store, with its rows.
pub fn all_results(store: &Store) -> Result<Vec<(String, String, Vec<GuardRow>)>, EvalError> {
    let mut out = Vec::new();
    for (g, m) in store.guard_keys()? {
        let rows = store.guard_rows(&g, &m)?;
        out.push((g, m, rows));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_every_n_chars_end_with_the_full_text() {
        assert_eq!(
            prefixes("가나다라마바사", 3),
            vec!["가나다", "가나다라마바", "가나다라마바사"]
        );
        assert_eq!(prefixes("가나다라마바", 3), vec!["가나다", "가나다라마바"]);
        assert_eq!(prefixes("가", 100), vec!["가"]);
    }
}
