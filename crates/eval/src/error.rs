//! The crate's error type: every way an evaluation, a judging or a guard run can fail, each
//! variant naming what is at fault and how to go on.

use crate::store::StoreError;
use ksafe_core::DatasetError;
use ksafe_providers::CallError;
use std::path::PathBuf;

/// Why an evaluation, judging or guard run failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The dataset cannot be read.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A model cannot be called at all (a missing key, a client that cannot be built).
    #[error("{0}")]
    Provider(#[from] CallError),
    /// No run of that id in the store.
    #[error("no run '{run}' in {} (see `ksafe runs list`)", store.display())]
    UnknownRun {
        /// The run asked for.
        run: String,
        /// The store searched.
        store: PathBuf,
    },
    /// The dataset a run was made on can no longer be opened.
    #[error("run {run}: its dataset {dataset} cannot be opened ({source}); reports and judges need the dataset the run used")]
    DatasetGone {
        /// The run.
        run: String,
        /// The dataset path recorded with it.
        dataset: String,
        /// Why it cannot be opened.
        source: DatasetError,
    },
    /// A judge asked for has no verdicts in the run.
    #[error("run {run} has no {measure} verdicts from '{judge}' (it has: {available})")]
    NoVerdicts {
        /// The run.
        run: String,
        /// The judge asked for.
        judge: String,
        /// `safety` or `refusal`.
        measure: &'static str,
        /// The judges it has, comma-separated.
        available: String,
    },
    /// A dataset file no longer matches its manifest: it was edited after it was built, and a
    /// run on it would be stored under the wrong dataset hash.
    #[error("{} does not match the manifest of {} (sha256 {}…, the manifest says {}…): the dataset was changed after it was built or imported. If on purpose, run `ksafe data reindex {}`; otherwise rebuild or re-import it", file, dataset.display(), &got[..12.min(got.len())], &want[..12.min(want.len())], dataset.display())]
    DatasetChanged {
        /// The dataset directory.
        dataset: PathBuf,
        /// The file, relative to it.
        file: String,
        /// What the manifest records.
        want: String,
        /// What the file hashes to now.
        got: String,
    },
    /// A thread or task of the pipeline panicked.
    #[error("internal error: the {what} panicked: {message}")]
    TaskPanicked {
        /// Which part (the dataset reader, the store writer, a worker).
        what: &'static str,
        /// The panic message.
        message: String,
    },
    /// A line of an input file cannot be used.
    #[error("{}:{line}: {message}", file.display())]
    Input {
        /// The file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl EvalError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> EvalError {
        EvalError::Io {
            path: path.into(),
            source,
        }
    }

    /// The message of a thread's panic payload.
    pub fn panicked(what: &'static str, payload: Box<dyn std::any::Any + Send>) -> EvalError {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        EvalError::TaskPanicked { what, message }
    }
}
