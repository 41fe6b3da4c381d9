//! The run store: SQLite (WAL), one row per (run, sample). Written by one thread, read by reports.
//! Keys are never stored: a run records the target's name, model and base URL only.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StoreError {
    pub path: PathBuf,
    #[source]
    pub source: rusqlite::Error,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    target       TEXT NOT NULL,
    model        TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    is_mock      INTEGER NOT NULL,
    dataset      TEXT NOT NULL,
    dataset_name TEXT NOT NULL,
    dataset_hash TEXT NOT NULL,
    params       TEXT NOT NULL,
    config       TEXT NOT NULL,
    tool         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    run_id            TEXT NOT NULL,
    sample_id         TEXT NOT NULL,
    status            TEXT NOT NULL,
    text              TEXT,
    finish_reason     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        REAL,
    attempts          INTEGER NOT NULL,
    error_class       TEXT,
    error_message     TEXT,
    model             TEXT,
    finished_at       TEXT NOT NULL,
    PRIMARY KEY (run_id, sample_id)
);
CREATE TABLE IF NOT EXISTS judgments (
    run_id      TEXT NOT NULL,
    sample_id   TEXT NOT NULL,
    judge       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    detail      TEXT,
    raw         TEXT,
    judge_model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, sample_id, judge, kind)
);
";

/// What a run is: everything a report must say about what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub created_at: String,
    pub target: String,
    pub model: String,
    pub base_url: String,
    pub is_mock: bool,
    pub dataset: String,
    pub dataset_name: String,
    pub dataset_hash: String,
    /// Decoding parameters and system prompt (JSON).
    pub params: serde_json::Value,
    /// Concurrency, limits, retries, selection (JSON).
    pub config: serde_json::Value,
    pub tool: String,
}

/// The outcome of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Blocked by the provider's content filter: an outcome, not an error.
    ContentFilter,
    Error,
}

impl Status {
    pub fn id(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::ContentFilter => "content_filter",
            Status::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Status {
        match s {
            "ok" => Status::Ok,
            "content_filter" => Status::ContentFilter,
            _ => Status::Error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRow {
    pub run_id: String,
    pub sample_id: String,
    pub status: Status,
    pub text: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub latency_ms: f64,
    pub attempts: u32,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub model: Option<String>,
    pub finished_at: String,
}

pub struct Store {
    path: PathBuf,
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn,
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record a run, or keep the existing record of the same id (a resumed run).
    pub fn upsert_run(&self, r: &RunRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO runs (run_id, created_at, target, model, base_url, is_mock, dataset, dataset_name, dataset_hash, params, config, tool)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![r.run_id, r.created_at, r.target, r.model, r.base_url, r.is_mock, r.dataset, r.dataset_name, r.dataset_hash, r.params.to_string(), r.config.to_string(), r.tool],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.conn
            .query_row("SELECT run_id, created_at, target, model, base_url, is_mock, dataset, dataset_name, dataset_hash, params, config, tool FROM runs WHERE run_id = ?1", [run_id], run_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT run_id, created_at, target, model, base_url, is_mock, dataset, dataset_name, dataset_hash, params, config, tool FROM runs ORDER BY created_at, run_id")
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([], run_from_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Sample ids already settled in a run (errors included unless `include_errors` is false).
    pub fn done_ids(
        &self,
        run_id: &str,
        include_errors: bool,
    ) -> Result<HashSet<String>, StoreError> {
        let sql = if include_errors {
            "SELECT sample_id FROM responses WHERE run_id = ?1"
        } else {
            "SELECT sample_id FROM responses WHERE run_id = ?1 AND status != 'error'"
        };
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Insert a batch in one transaction. A settled row is never overwritten; an error row is
    /// replaced by a later attempt's row.
    pub fn insert_batch(&mut self, rows: &[ResponseRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError {
            path: self.path.clone(),
            source: e,
        })?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO responses (run_id, sample_id, status, text, finish_reason, prompt_tokens, completion_tokens, latency_ms, attempts, error_class, error_message, model, finished_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (run_id, sample_id) DO UPDATE SET
                       status = excluded.status, text = excluded.text, finish_reason = excluded.finish_reason,
                       prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                       latency_ms = excluded.latency_ms, attempts = excluded.attempts, error_class = excluded.error_class,
                       error_message = excluded.error_message, model = excluded.model, finished_at = excluded.finished_at
                     WHERE responses.status = 'error'",
                )
                .map_err(|e| StoreError { path: self.path.clone(), source: e })?;
            for r in rows {
                st.execute(params![
                    r.run_id,
                    r.sample_id,
                    r.status.id(),
                    r.text,
                    r.finish_reason,
                    r.prompt_tokens.map(|x| x as i64),
                    r.completion_tokens.map(|x| x as i64),
                    r.latency_ms,
                    r.attempts,
                    r.error_class,
                    r.error_message,
                    r.model,
                    r.finished_at
                ])
                .map_err(|e| StoreError {
                    path: self.path.clone(),
                    source: e,
                })?;
            }
        }
        tx.commit().map_err(|e| StoreError {
            path: self.path.clone(),
            source: e,
        })
    }

    /// Every response of a run, in sample-id order.
    pub fn responses(&self, run_id: &str) -> Result<Vec<ResponseRow>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT run_id, sample_id, status, text, finish_reason, prompt_tokens, completion_tokens, latency_ms, attempts, error_class, error_message, model, finished_at FROM responses WHERE run_id = ?1 ORDER BY sample_id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok(ResponseRow {
                    run_id: r.get(0)?,
                    sample_id: r.get(1)?,
                    status: Status::parse(&r.get::<_, String>(2)?),
                    text: r.get(3)?,
                    finish_reason: r.get(4)?,
                    prompt_tokens: r.get::<_, Option<i64>>(5)?.map(|x| x as u64),
                    completion_tokens: r.get::<_, Option<i64>>(6)?.map(|x| x as u64),
                    latency_ms: r.get::<_, Option<f64>>(7)?.unwrap_or(0.0),
                    attempts: r.get(8)?,
                    error_class: r.get(9)?,
                    error_message: r.get(10)?,
                    model: r.get(11)?,
                    finished_at: r.get(12)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// (status or error class, count) of a run.
    pub fn status_counts(&self, run_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT CASE WHEN status = 'error' THEN 'error:' || COALESCE(error_class, '?') ELSE status END AS k, COUNT(*) FROM responses WHERE run_id = ?1 GROUP BY k ORDER BY k")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn run_from_row(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        run_id: r.get(0)?,
        created_at: r.get(1)?,
        target: r.get(2)?,
        model: r.get(3)?,
        base_url: r.get(4)?,
        is_mock: r.get(5)?,
        dataset: r.get(6)?,
        dataset_name: r.get(7)?,
        dataset_hash: r.get(8)?,
        params: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
        config: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
        tool: r.get(11)?,
    })
}

/// UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn tri_id(t: ksafe_core::metrics::Tri) -> &'static str {
    match t {
        ksafe_core::metrics::Tri::Yes => "yes",
        ksafe_core::metrics::Tri::No => "no",
        ksafe_core::metrics::Tri::Unscored => "unscored",
    }
}

fn tri_parse(s: &str) -> ksafe_core::metrics::Tri {
    match s {
        "yes" => ksafe_core::metrics::Tri::Yes,
        "no" => ksafe_core::metrics::Tri::No,
        _ => ksafe_core::metrics::Tri::Unscored,
    }
}

impl Store {
    /// Store verdicts; a (run, sample, judge, kind) already judged is never judged twice.
    pub fn insert_judgments(&mut self, rows: &[crate::judge::Judgment]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| StoreError {
            path: path.clone(),
            source: e,
        })?;
        {
            let mut st = tx
                .prepare_cached("INSERT OR IGNORE INTO judgments (run_id, sample_id, judge, kind, verdict, detail, raw, judge_model, prompt_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .map_err(|e| StoreError { path: path.clone(), source: e })?;
            for j in rows {
                st.execute(params![
                    j.run_id,
                    j.sample_id,
                    j.judge,
                    j.kind.id(),
                    tri_id(j.verdict),
                    j.detail,
                    j.raw,
                    j.judge_model,
                    j.prompt_hash,
                    j.created_at
                ])
                .map_err(|e| StoreError {
                    path: path.clone(),
                    source: e,
                })?;
            }
        }
        tx.commit().map_err(|e| StoreError { path, source: e })
    }

    /// (sample_id, kind) pairs a judge has already judged in a run.
    pub fn judged(
        &self,
        run_id: &str,
        judge: &str,
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT sample_id, kind FROM judgments WHERE run_id = ?1 AND judge = ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run_id, judge], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Every verdict of a run.
    pub fn judgments(&self, run_id: &str) -> Result<Vec<crate::judge::Judgment>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT run_id, sample_id, judge, kind, verdict, detail, raw, judge_model, prompt_hash, created_at FROM judgments WHERE run_id = ?1 ORDER BY sample_id, judge, kind")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok(crate::judge::Judgment {
                    run_id: r.get(0)?,
                    sample_id: r.get(1)?,
                    judge: r.get(2)?,
                    kind: if r.get::<_, String>(3)? == "refusal" {
                        crate::judge::Kind::Refusal
                    } else {
                        crate::judge::Kind::Safety
                    },
                    verdict: tri_parse(&r.get::<_, String>(4)?),
                    detail: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    raw: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    judge_model: r.get(7)?,
                    prompt_hash: r.get(8)?,
                    created_at: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
