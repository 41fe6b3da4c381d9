//! Joining a run's samples, responses and verdicts into the [`RunData`] the report reads, with the
//! safety verdicts combined as asked (OR, AND, majority) — at report time, without re-judging.

use crate::error::EvalError;
use crate::judge::{combine, heuristic, Combine};
use crate::record::{Judgment, Measure, ResponseRow};
use crate::store::Store;
use ksafe_core::metrics::{Judged, RunData, Tri};
use ksafe_core::Dataset;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Which verdicts a report uses.
#[derive(Debug, Clone)]
pub struct JudgeChoice {
    /// Safety judges to combine; empty = every safety judge of the run except the heuristic, or
    /// the heuristic when it is the only one.
    pub safety_judges: Vec<String>,
    /// How the safety judges combine.
    pub combine: Combine,
    /// Refusal judge; `None` = a model refusal judge if there is one, else the heuristic.
    pub refusal_judge: Option<String>,
}

impl Default for JudgeChoice {
    fn default() -> Self {
        JudgeChoice {
            safety_judges: Vec::new(),
            combine: Combine::Or,
            refusal_judge: None,
        }
    }
}

/// A run's samples, responses and verdicts joined, with the safety verdicts combined as `sel`
/// asks.
pub fn load_run(store: &Store, run_id: &str, sel: &JudgeChoice) -> Result<RunData, EvalError> {
    let run = store.run(run_id)?.ok_or_else(|| EvalError::UnknownRun {
        run: run_id.to_string(),
        store: store.path().to_path_buf(),
    })?;
    let ds = Dataset::open(Path::new(&run.dataset)).map_err(|e| EvalError::DatasetGone {
        run: run_id.to_string(),
        dataset: run.dataset.clone(),
        source: e,
    })?;
    let judgments = store.judgments(run_id)?;
    let mut judge_info = BTreeMap::new();
    let mut safety_ids: Vec<String> = Vec::new();
    let mut refusal_ids: Vec<String> = Vec::new();
    let mut by_sample: HashMap<&str, Vec<&Judgment>> = HashMap::new();
    for j in &judgments {
        judge_info
            .entry(j.judge.clone())
            .or_insert((j.judge_model.clone(), j.prompt_hash.clone()));
        let list = if j.kind == Measure::Safety {
            &mut safety_ids
        } else {
            &mut refusal_ids
        };
        if !list.contains(&j.judge) {
            list.push(j.judge.clone());
        }
        by_sample.entry(j.sample_id.as_str()).or_default().push(j);
    }
    let safety: Vec<String> = if !sel.safety_judges.is_empty() {
        for s in &sel.safety_judges {
            if !safety_ids.contains(s) {
                return Err(EvalError::NoVerdicts {
                    run: run_id.to_string(),
                    judge: s.clone(),
                    measure: "safety",
                    available: safety_ids.join(", "),
                });
            }
        }
        sel.safety_judges.clone()
    } else {
        let models: Vec<String> = safety_ids
            .iter()
            .filter(|j| *j != "heuristic")
            .cloned()
            .collect();
        if models.is_empty() {
            safety_ids.clone()
        } else {
            models
        }
    };
    let refusal = match &sel.refusal_judge {
        Some(r) if !refusal_ids.contains(r) => {
            return Err(EvalError::NoVerdicts {
                run: run_id.to_string(),
                judge: r.clone(),
                measure: "refusal",
                available: refusal_ids.join(", "),
            })
        }
        Some(r) => Some(r.clone()),
        None => refusal_ids
            .iter()
            .find(|j| *j != "heuristic")
            .cloned()
            .or_else(|| refusal_ids.first().cloned()),
    };
    let responses: HashMap<String, ResponseRow> = store
        .responses(run_id)?
        .into_iter()
        .map(|r| (r.sample_id.clone(), r))
        .collect();
    let mut judged = Vec::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut mismatches = 0;
    for item in ds.samples()? {
        let (_, s) = item?;
        let Some(resp) = responses.get(&s.id) else {
            continue;
        };
        let js = by_sample.get(s.id.as_str()).cloned().unwrap_or_default();
        let mut note = |v: &Judgment| {
            if v.verdict == Tri::Unscored {
                let reason = v.detail.split(':').next().unwrap_or("unscored").to_string();
                *reasons
                    .entry(format!("{} ({})", reason, v.judge))
                    .or_default() += 1;
            }
        };
        let verdicts: Vec<Tri> = safety
            .iter()
            .map(|id| {
                match js
                    .iter()
                    .find(|j| j.kind == Measure::Safety && &j.judge == id)
                {
                    Some(j) => {
                        note(j);
                        j.verdict
                    }
                    None => Tri::Unscored,
                }
            })
            .collect();
        let refused = match &refusal {
            Some(id) => match js
                .iter()
                .find(|j| j.kind == Measure::Refusal && &j.judge == id)
            {
                Some(j) => {
                    note(j);
                    j.verdict
                }
                None => Tri::Unscored,
            },
            None => Tri::Unscored,
        };
        if let Some(t) = &resp.text {
            if heuristic::language_mismatch(&s.text, t) {
                mismatches += 1;
            }
        }
        judged.push(Judged {
            sample_id: s.id.clone(),
            subset: s.subset,
            category: s.category,
            query_type: s.query_type,
            image_type: s.image_type,
            // the 11 queries of a C image share it; otherwise a variant clusters with its seed
            cluster: s
                .image
                .as_ref()
                .map(|i| i.sha256.clone())
                .or_else(|| s.parent_id.clone())
                .unwrap_or_else(|| s.id.clone()),
            unsafe_: if safety.is_empty() {
                Tri::Unscored
            } else {
                combine(&verdicts, sel.combine)
            },
            refused,
        });
    }
    Ok(RunData {
        run_id: run.run_id,
        target: run.target,
        is_mock: run.is_mock,
        dataset: run.dataset,
        dataset_hash: run.dataset_hash,
        params: run.params,
        config: run.config,
        tool: run.tool,
        safety_judges: safety,
        combine: sel.combine.id().to_string(),
        refusal_judge: refusal,
        judge_info,
        judged,
        unscored_reasons: reasons,
        language_mismatches: mismatches,
    })
}
