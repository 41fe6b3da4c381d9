//! The runner: a bounded async pipeline. A producer thread streams the dataset (skipping what is
//! already stored, reading and encoding each image once), N workers call the target within an
//! adaptive concurrency limit and RPM/TPM pacing, retrying transient failures with backoff, and one
//! writer thread commits results in batches. Memory stays flat in the dataset size; a run killed at
//! any moment resumes with the same command, redoing nothing and duplicating nothing.

use crate::breaker::{Breaker, BreakerConfig, Trip};
use crate::error::EvalError;
use crate::record::{now_utc, ResponseRow, RunRecord, Status};
use crate::store::{Store, StoreError};
use base64::Engine;
use ksafe_core::hash::{image_extension, sha256_hex};
use ksafe_core::{Category, Dataset, DatasetError, ImageType, QueryType, Sample, Subset};
use ksafe_providers::exec::{pool, Done, Endpoint, ExecConfig};
use ksafe_providers::limits::RetryPolicy;
use ksafe_providers::{CallError, DecodeParams, GaveUp, ImageData, Request, TargetSpec};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which samples of a dataset to run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SampleFilter {
    /// Only these subsets (empty: all).
    pub subsets: Vec<Subset>,
    /// Only these categories (empty: all).
    pub categories: Vec<Category>,
    /// Only these query types (empty: all).
    pub query_types: Vec<QueryType>,
    /// Only these image types (empty: all).
    pub image_types: Vec<ImageType>,
    /// The first N selected samples.
    pub limit: Option<usize>,
    /// Only these sample ids.
    #[serde(skip)]
    pub sample_ids: Option<HashSet<String>>,
}

impl SampleFilter {
    /// Whether a sample is selected (the limit aside).
    pub fn matches(&self, s: &Sample) -> bool {
        (self.subsets.is_empty() || self.subsets.contains(&s.subset))
            && (self.categories.is_empty() || self.categories.contains(&s.category))
            && (self.query_types.is_empty() || self.query_types.contains(&s.query_type))
            && (self.image_types.is_empty()
                || s.image_type.is_some_and(|t| self.image_types.contains(&t)))
            && self
                .sample_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.id))
    }
}

/// What one run is: a target over a dataset, with its parameters, limits and selection.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The dataset directory.
    pub dataset: PathBuf,
    /// The model under test.
    pub target: TargetSpec,
    /// Decoding parameters.
    pub params: DecodeParams,
    /// The most requests in flight; the adaptive limit starts here and shrinks on 429s.
    pub concurrency: usize,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Bound on each request.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Which samples.
    pub selection: SampleFilter,
    /// Name the run; default: derived from target, dataset, parameters and selection, so the same
    /// command resumes the same run.
    pub run_id: Option<String>,
    /// Ask again the samples stored as errors.
    pub retry_errors: bool,
    /// Downscale images whose longer side exceeds this (re-encoded as PNG). Off by default.
    pub max_image_side: Option<u32>,
    /// When a target that cannot be used is stopped.
    pub breaker: BreakerConfig,
}

impl RunConfig {
    /// A run of `target` over `dataset` with the defaults.
    pub fn new(dataset: PathBuf, target: TargetSpec) -> RunConfig {
        RunConfig {
            dataset,
            target,
            params: DecodeParams::default(),
            concurrency: 32,
            rpm: None,
            tpm: None,
            timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            selection: SampleFilter::default(),
            run_id: None,
            retry_errors: false,
            max_image_side: None,
            breaker: BreakerConfig::for_concurrency(32),
        }
    }

    /// The executor limits of the target.
    pub fn exec(&self, run_id: &str) -> ExecConfig {
        ExecConfig {
            concurrency: self.concurrency.max(1),
            rpm: self.rpm,
            tpm: self.tpm,
            timeout: self.timeout,
            retry: self.retry.clone(),
            seed: ksafe_core::Rng::derive(0, run_id).next_u64(),
        }
    }
}

/// What a resumed run finds in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resume {
    /// Selected samples already settled (they are not asked again).
    pub settled: u64,
    /// Stored failures among the selected samples, by error class; they are asked again only
    /// with `--retry-errors`.
    pub failed: BTreeMap<String, u64>,
}

/// Live counters for a progress display.
pub trait RunProgress: Send + Sync {
    /// The run starts: `total` samples to ask; `resume` says what was stored before.
    fn start(&self, _total: u64, _resume: &Resume) {}
    /// A sample settled.
    fn finished(&self, _status: Status) {}
    /// A sample entered (+1) or left (-1) a backoff wait.
    fn retrying(&self, _delta: i64) {}
}

/// A progress display that shows nothing.
pub struct NoProgress;
impl RunProgress for NoProgress {}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// The run.
    pub run_id: String,
    /// Samples selected.
    pub selected: u64,
    /// Of those, stored before this invocation.
    pub already_done: u64,
    /// Samples asked now.
    pub attempted: u64,
    /// Answered.
    pub ok: u64,
    /// Blocked by the provider's content filter.
    pub content_filter: u64,
    /// Failures by error class.
    pub errors: BTreeMap<String, u64>,
    /// Retries in all (attempts beyond the first).
    pub retries: u64,
    /// The most attempts one sample needed.
    pub max_attempts_used: u32,
    /// Samples failed after the attempt cap.
    pub gave_up_attempt_cap: u64,
    /// Samples failed after the same error repeated.
    pub gave_up_same_error: u64,
    /// Times the adaptive limit was cut for 429s.
    pub rate_limit_cuts: u64,
    /// The adaptive limit at the end.
    pub final_concurrency: usize,
    /// Samples whose task panicked (stored as errors of class `panic`).
    pub panicked: u64,
    /// Wall time.
    pub seconds: f64,
    /// HTTP requests (retries included) per second.
    pub requests_per_second: f64,
    /// Failed samples among all selected ones, stored now or before (0: every selected sample
    /// is answered or blocked by the provider's filter).
    pub failed_total: u64,
    /// Why the run was stopped early (the circuit breaker), if it was.
    pub stopped: Option<Trip>,
    /// What the user should know (the endpoint changed since the run started).
    pub warnings: Vec<String>,
}

/// The run id for a configuration: `<target>-<8 hex>`.
pub fn run_id_for(cfg: &RunConfig, dataset_hash: &str) -> String {
    // the endpoint is not part of the identity: a local server restarted on another port
    // resumes the same run (the URL is recorded, and a change is reported)
    let key = serde_json::json!({
        "target": cfg.target.name, "model": cfg.target.model, "dataset": dataset_hash,
        "params": cfg.params, "selection": cfg.selection,
        "ids": cfg.selection.sample_ids.as_ref().map(|s| { let mut v: Vec<&String> = s.iter().collect(); v.sort(); sha256_hex(serde_json::to_string(&v).unwrap_or_default().as_bytes()) }),
    });
    let slug: String = cfg
        .target
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{slug}-{}", &sha256_hex(key.to_string().as_bytes())[..8])
}

/// Check the dataset's samples file and the images the selected samples use against the
/// manifest, before anything is spent on it. A dataset without a manifest (a bare samples file)
/// has nothing to check against.
pub fn verify_dataset(ds: &Dataset, selection: &SampleFilter) -> Result<(), EvalError> {
    let Some(m) = &ds.manifest else {
        return Ok(());
    };
    let check = |rel: &str, path: &std::path::Path| -> Result<(), EvalError> {
        let Some(want) = m.files.get(rel) else {
            return Ok(());
        };
        let got = ksafe_core::hash::sha256_file(path).map_err(|e| EvalError::io(path, e))?;
        if &got != want {
            return Err(EvalError::DatasetChanged {
                dataset: ds.dir.clone(),
                file: rel.to_string(),
                want: want.clone(),
                got,
            });
        }
        Ok(())
    };
    check(ksafe_core::dataset::SAMPLES_FILE, &ds.samples_path)?;
    let mut seen = HashSet::new();
    let mut n = 0usize;
    for item in ds.samples()? {
        let (_, s) = item?;
        if !selection.matches(&s) {
            continue;
        }
        if selection.limit.is_some_and(|l| n >= l) {
            break;
        }
        n += 1;
        if let Some(img) = &s.image {
            if seen.insert(img.path.clone()) {
                check(&img.path, &ds.image_path(img)?)?;
            }
        }
    }
    Ok(())
}

/// The hash that identifies a dataset's content: its samples file's.
pub fn dataset_hash(ds: &Dataset) -> Result<String, DatasetError> {
    if let Some(h) = ds
        .manifest
        .as_ref()
        .and_then(|m| m.files.get(ksafe_core::dataset::SAMPLES_FILE))
    {
        return Ok(h.clone());
    }
    ksafe_core::hash::sha256_file(&ds.samples_path)
        .map_err(|e| DatasetError::io(&ds.samples_path, e))
}

struct Job {
    sample_id: String,
    text: String,
    image: Result<Option<ImageData>, String>,
}

fn mime_of(ext: &str) -> &'static str {
    match ext {
        "jpg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => "image/png",
    }
}

/// Read, optionally downscale, and base64-encode an image.
fn load_image(path: &std::path::Path, max_side: Option<u32>) -> Result<ImageData, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read image {}: {e}", path.display()))?;
    let ext = image_extension(&bytes)
        .ok_or_else(|| format!("{} is not a PNG, JPEG, WebP or GIF image", path.display()))?;
    if let Some(side) = max_side {
        let img = image::load_from_memory(&bytes)
            .map_err(|e| format!("cannot decode image {}: {e}", path.display()))?;
        if img.width().max(img.height()) > side {
            let small = img.resize(side, side, image::imageops::FilterType::Triangle);
            let mut out = std::io::Cursor::new(Vec::new());
            small
                .write_to(&mut out, image::ImageFormat::Png)
                .map_err(|e| format!("cannot re-encode {}: {e}", path.display()))?;
            return Ok(ImageData {
                mime: "image/png",
                base64: Arc::from(
                    base64::engine::general_purpose::STANDARD.encode(out.into_inner()),
                ),
            });
        }
    }
    Ok(ImageData {
        mime: mime_of(ext),
        base64: Arc::from(base64::engine::general_purpose::STANDARD.encode(&bytes)),
    })
}

/// Run a target over a dataset, resuming what `store` already has.
pub async fn run(
    cfg: &RunConfig,
    store: &Store,
    progress: Arc<dyn RunProgress>,
) -> Result<RunSummary, EvalError> {
    let t0 = Instant::now();
    let ds = Dataset::open(&cfg.dataset)?;
    verify_dataset(&ds, &cfg.selection)?;
    let hash = dataset_hash(&ds)?;
    let run_id = cfg.run_id.clone().unwrap_or_else(|| run_id_for(cfg, &hash));
    let endpoint = Endpoint::new(cfg.target.clone(), &cfg.exec(&run_id))?;
    store.upsert_run(&RunRecord {
        run_id: run_id.clone(),
        created_at: now_utc(),
        target: cfg.target.name.clone(),
        model: cfg.target.model.clone(),
        base_url: ksafe_providers::types::strip_userinfo(&cfg.target.base_url),
        is_mock: cfg.target.is_mock(),
        dataset: cfg.dataset.display().to_string(),
        dataset_name: ds
            .manifest
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        dataset_hash: hash.clone(),
        params: serde_json::to_value(&cfg.params).unwrap_or_default(),
        config: serde_json::json!({
            "concurrency": cfg.concurrency, "rpm": cfg.rpm, "tpm": cfg.tpm,
            "timeout_s": cfg.timeout.as_secs_f64(), "max_attempts": cfg.retry.max_attempts,
            "same_error_cap": cfg.retry.same_error_cap, "selection": cfg.selection,
            "max_image_side": cfg.max_image_side,
        }),
        tool: format!("ksafe {}", env!("CARGO_PKG_VERSION")),
    })?;
    let mut warnings = Vec::new();
    if let Some(prev) = store.run(&run_id)? {
        let now = ksafe_providers::types::strip_userinfo(&cfg.target.base_url);
        if prev.base_url != now {
            warnings.push(format!(
                "run {run_id} was started against {} and now continues against {now}: both answers are stored in one run",
                prev.base_url
            ));
        }
    }
    let done = store.done_ids(&run_id, !cfg.retry_errors)?;
    let stored_failures = store.failed_classes(&run_id)?;

    // First pass: how much is selected and how much is left, for the progress bar.
    let mut selected = 0u64;
    let mut already = 0u64;
    let mut resume = Resume::default();
    for item in ds.samples()? {
        let (_, s) = item?;
        if !cfg.selection.matches(&s) {
            continue;
        }
        if cfg.selection.limit.is_some_and(|l| selected as usize >= l) {
            break;
        }
        selected += 1;
        if done.contains(&s.id) {
            already += 1;
            if let Some(class) = stored_failures.get(&s.id) {
                *resume.failed.entry(class.clone()).or_default() += 1;
            }
        }
    }
    resume.settled = already;
    progress.start(selected - already, &resume);

    // Writer thread.
    let (row_tx, row_rx) = std::sync::mpsc::channel::<ResponseRow>();
    let writer_store = store.clone();
    let writer = std::thread::spawn(move || -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(256);
        let mut last = Instant::now();
        loop {
            match row_rx.recv_timeout(Duration::from_millis(200)) {
                Ok(r) => batch.push(r),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if batch.len() >= 256
                || (!batch.is_empty() && last.elapsed() >= Duration::from_millis(200))
            {
                writer_store.insert_batch(&batch)?;
                batch.clear();
                last = Instant::now();
            }
        }
        if !batch.is_empty() {
            writer_store.insert_batch(&batch)?;
        }
        Ok(())
    });

    // Producer thread.
    let (job_tx, job_rx) = tokio::sync::mpsc::channel::<Job>(cfg.concurrency.max(1) * 2);
    let producer = {
        let ds = ds.clone();
        let selection = cfg.selection.clone();
        let max_side = cfg.max_image_side;
        std::thread::spawn(move || -> Result<(), DatasetError> {
            let mut cache: VecDeque<(String, Result<ImageData, String>)> = VecDeque::new();
            let mut n = 0usize;
            for item in ds.samples()? {
                let (_, s) = item?;
                if !selection.matches(&s) {
                    continue;
                }
                if selection.limit.is_some_and(|l| n >= l) {
                    break;
                }
                n += 1;
                if done.contains(&s.id) {
                    continue;
                }
                let image = match &s.image {
                    None => Ok(None),
                    Some(img) => {
                        let hit = cache
                            .iter()
                            .find(|(k, _)| *k == img.path)
                            .map(|(_, v)| v.clone());
                        let v = match hit {
                            Some(v) => v,
                            None => {
                                let v = ds
                                    .image_path(img)
                                    .map_err(|e| e.to_string())
                                    .and_then(|p| load_image(&p, max_side));
                                cache.push_back((img.path.clone(), v.clone()));
                                if cache.len() > 32 {
                                    cache.pop_front();
                                }
                                v
                            }
                        };
                        v.map(Some)
                    }
                };
                if job_tx
                    .blocking_send(Job {
                        sample_id: s.id,
                        text: s.text,
                        image,
                    })
                    .is_err()
                {
                    break; // workers gone
                }
            }
            Ok(())
        })
    };

    let endpoint = Arc::new(endpoint);
    let counters = Arc::new(Counters::default());
    let mut breaker = Breaker::new(cfg.breaker);
    let mut stopped: Option<Trip> = None;
    let mut job_rx = job_rx;

    // Probe: one request at a time until the target answers once, so a wrong key, a wrong model
    // or a dead address costs a few requests, not the concurrency's worth.
    loop {
        let Some(job) = job_rx.recv().await else {
            break;
        };
        let row = one(&job, &endpoint, &cfg.params, &counters, &*progress, &run_id).await;
        let fatal = row
            .error_class
            .as_deref()
            .is_some_and(|c| crate::breaker::FATAL_CLASSES.contains(&c));
        stopped = breaker.record(&row, &cfg.target);
        progress.finished(row.status);
        let sent = row_tx.send(row).is_ok();
        if stopped.is_some() || !sent || !fatal {
            break;
        }
    }

    // Workers: the executor's pool, each sample one call with retries under the endpoint's limits.
    let mut panicked = 0;
    if stopped.is_none() {
        let (params, rid) = (cfg.params.clone(), run_id.clone());
        let stats = pool(
            job_rx,
            cfg.concurrency,
            |job: &Job| job.sample_id.clone(),
            |job| {
                let (endpoint, counters, progress, params, rid) = (
                    endpoint.clone(),
                    counters.clone(),
                    progress.clone(),
                    params.clone(),
                    rid.clone(),
                );
                async move { one(&job, &endpoint, &params, &counters, &*progress, &rid).await }
            },
            |done| {
                let row = match done {
                    Done::Ok(row) => row,
                    Done::Panicked { key, message } => {
                        *counters
                            .errors
                            .lock()
                            .unwrap()
                            .entry("panic".into())
                            .or_default() += 1;
                        panic_row(&run_id, key, message)
                    }
                };
                if stopped.is_none() {
                    stopped = breaker.record(&row, &cfg.target);
                }
                progress.finished(row.status);
                row_tx.send(row).is_ok() && stopped.is_none()
            },
        )
        .await;
        panicked = stats.panicked;
    } else {
        drop(job_rx);
    }
    drop(row_tx);
    producer
        .join()
        .map_err(|p| EvalError::panicked("dataset reader", p))??;
    writer
        .join()
        .map_err(|p| EvalError::panicked("store writer", p))??;
    let failed_total = store.failed_classes(&run_id)?.len() as u64;

    let secs = t0.elapsed().as_secs_f64();
    let c = &counters;
    let mut errors = BTreeMap::new();
    for (k, v) in c.errors.lock().unwrap().iter() {
        errors.insert(k.clone(), *v);
    }
    let attempted = c.attempted.load(Ordering::Relaxed);
    Ok(RunSummary {
        run_id,
        selected,
        already_done: already,
        attempted,
        ok: c.ok.load(Ordering::Relaxed),
        content_filter: c.filtered.load(Ordering::Relaxed),
        errors,
        retries: c.retries.load(Ordering::Relaxed),
        max_attempts_used: c.max_attempts.load(Ordering::Relaxed) as u32,
        gave_up_attempt_cap: c.cap.load(Ordering::Relaxed),
        gave_up_same_error: c.same.load(Ordering::Relaxed),
        rate_limit_cuts: endpoint.limits().aimd.cuts(),
        final_concurrency: endpoint.limits().aimd.limit(),
        panicked,
        failed_total,
        stopped,
        warnings,
        seconds: secs,
        requests_per_second: c.requests.load(Ordering::Relaxed) as f64 / secs.max(1e-9),
    })
}

#[derive(Default)]
struct Counters {
    attempted: AtomicU64,
    requests: AtomicU64,
    ok: AtomicU64,
    filtered: AtomicU64,
    retries: AtomicU64,
    max_attempts: AtomicU64,
    cap: AtomicU64,
    same: AtomicU64,
    errors: std::sync::Mutex<BTreeMap<String, u64>>,
}

/// The error row of a sample whose task panicked: counted, stored, asked again by
/// `--retry-errors`.
fn panic_row(run_id: &str, sample_id: String, message: String) -> ResponseRow {
    ResponseRow::failed(
        run_id,
        &sample_id,
        "panic",
        format!("internal error: the task panicked: {message}"),
    )
}

async fn one(
    job: &Job,
    endpoint: &Endpoint,
    params: &DecodeParams,
    c: &Counters,
    progress: &dyn RunProgress,
    run_id: &str,
) -> ResponseRow {
    c.attempted.fetch_add(1, Ordering::Relaxed);
    let t0 = Instant::now();
    let mut row = ResponseRow::pending(run_id, &job.sample_id);
    let image = match &job.image {
        Ok(i) => i.clone(),
        Err(msg) => {
            row.error_class = Some("input".into());
            row.error_message = Some(format!("sample {}: {msg}", job.sample_id));
            row.finished_at = now_utc();
            *c.errors.lock().unwrap().entry("input".into()).or_default() += 1;
            return row;
        }
    };
    let req = Request {
        id: job.sample_id.clone(),
        text: job.text.clone(),
        image,
        params: params.clone(),
        response_to_check: None,
    };
    let est_tokens =
        job.text.chars().count() as u64 / 2 + u64::from(params.max_tokens.unwrap_or(256));
    let on_retry = |d: i64| progress.retrying(d);
    let called = endpoint.call(&req, est_tokens, &on_retry).await;
    let attempts = called.attempts;
    c.requests.fetch_add(u64::from(attempts), Ordering::Relaxed);
    c.retries
        .fetch_add(u64::from(attempts - 1), Ordering::Relaxed);
    match called.result {
        Ok(resp) => {
            c.ok.fetch_add(1, Ordering::Relaxed);
            row.status = Status::Ok;
            row.text = Some(resp.text);
            row.finish_reason = resp.finish_reason;
            row.prompt_tokens = resp.prompt_tokens;
            row.completion_tokens = resp.completion_tokens;
            row.model = resp.model;
        }
        Err(CallError::ContentFilter { detail }) => {
            c.filtered.fetch_add(1, Ordering::Relaxed);
            row.status = Status::ContentFilter;
            row.error_class = Some("content_filter".into());
            row.error_message = Some(detail);
        }
        Err(e) => {
            let why = match called.gave_up {
                Some(g @ GaveUp::SameError(_)) => {
                    c.same.fetch_add(1, Ordering::Relaxed);
                    format!(" ({g})")
                }
                Some(g @ GaveUp::AttemptCap(_)) => {
                    c.cap.fetch_add(1, Ordering::Relaxed);
                    format!(" ({g})")
                }
                None => String::new(),
            };
            *c.errors
                .lock()
                .unwrap()
                .entry(e.class().to_string())
                .or_default() += 1;
            row.error_class = Some(e.class().to_string());
            row.error_message = Some(format!("{e}{why}"));
        }
    }
    c.max_attempts
        .fetch_max(u64::from(attempts), Ordering::Relaxed);
    row.attempts = attempts;
    row.latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
    row.finished_at = now_utc();
    row
}
