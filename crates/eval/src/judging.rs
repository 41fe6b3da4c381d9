//! The judge phase: join a run's stored responses with its dataset's queries, hand the items a
//! judge has not judged yet to a [`Panel`], and commit the verdicts in batches, so a killed
//! judging run keeps what it had and a re-run judges only what is missing.

use crate::error::EvalError;
use crate::judge::{JudgeItem, Panel};
use crate::record::Judgment;
use crate::store::{Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// New verdicts per (run, judge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The run.
    pub run_id: String,
    /// The judge id.
    pub judge: String,
    /// Verdicts made now.
    pub new_verdicts: u64,
}

/// Judge the stored responses of `run_ids` with every judge of `panel`, skipping what each judge
/// has already judged.
pub async fn judge_runs(
    store: &Store,
    run_ids: &[String],
    panel: &Panel,
) -> Result<Vec<Judged>, EvalError> {
    let mut out = Vec::new();
    for run_id in run_ids {
        let run = store.run(run_id)?.ok_or_else(|| EvalError::UnknownRun {
            run: run_id.clone(),
            store: store.path().to_path_buf(),
        })?;
        let responses = store.responses(run_id)?;
        // queries, for judges that see them
        let mut queries = HashMap::new();
        if let Ok(ds) = ksafe_core::Dataset::open(Path::new(&run.dataset)) {
            for item in ds.samples()? {
                let (_, s) = item?;
                queries.insert(s.id, s.text);
            }
        }
        let mut done: HashMap<String, HashSet<(String, String)>> = HashMap::new();
        for j in panel.specs() {
            done.insert(j.id(), store.judged(run_id, &j.id())?);
        }
        let items: Vec<JudgeItem> = responses
            .iter()
            .map(|r| JudgeItem {
                run_id: run_id.clone(),
                sample_id: r.sample_id.clone(),
                status: r.status,
                response: r.text.clone(),
                error_class: r.error_class.clone(),
                query: queries.get(&r.sample_id).cloned(),
            })
            .collect();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut batch: Vec<Judgment> = Vec::new();
        let mut failed: Option<StoreError> = None;
        // verdicts are committed every 256, so a killed judging run keeps what it had
        let panicked = panel
            .judge(
                items,
                |item, judge| {
                    let d = &done[&judge.id()];
                    judge
                        .kinds()
                        .iter()
                        .any(|k| !d.contains(&(item.sample_id.clone(), k.id().to_string())))
                },
                |js| {
                    for j in &js {
                        *counts.entry(j.judge.clone()).or_default() += 1;
                    }
                    batch.extend(js);
                    if batch.len() >= 256 {
                        if let Err(e) = store.insert_judgments(&batch) {
                            failed = Some(e);
                            return false;
                        }
                        batch.clear();
                    }
                    true
                },
            )
            .await;
        if let Some(e) = failed {
            return Err(e.into());
        }
        store.insert_judgments(&batch)?;
        if panicked > 0 {
            return Err(EvalError::TaskPanicked {
                what: "judge worker",
                message: format!("{panicked} responses of run {run_id} were not judged"),
            });
        }
        for j in panel.specs() {
            out.push(Judged {
                run_id: run_id.clone(),
                judge: j.id(),
                new_verdicts: counts.get(&j.id()).copied().unwrap_or(0),
            });
        }
    }
    Ok(out)
}
