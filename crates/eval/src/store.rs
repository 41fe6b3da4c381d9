//! The run store: SQLite (WAL), one row per (run, sample), per verdict and per guard verdict.
//! This module owns every SQL statement of the crate. A [`Store`] is one open connection behind
//! a mutex, cheap to clone and shared by the threads of one command, so a command opens its
//! store once. Keys are never stored: a run records the target's name, model and base URL only.
//! A stored value that cannot be read back is an error naming the run, sample and column, never
//! a default.

use crate::record::{GuardRow, Judgment, Measure, ResponseRow, RunRecord, Status, Tri};
use rusqlite::{params, Connection};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (a locked, full or unreadable database).
    #[error("{path}: {source}")]
    Sql {
        /// The store file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value is not one this version writes.
    #[error("{path}: run {run}, sample {sample}: column {column} holds {value:?}, which is not a valid value")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// The run.
        run: String,
        /// The sample (or guard key).
        sample: String,
        /// The column.
        column: &'static str,
        /// What it holds (first characters).
        value: String,
    },
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
CREATE TABLE IF NOT EXISTS guard_verdicts (
    guard      TEXT NOT NULL,
    mode       TEXT NOT NULL,
    sample_id  TEXT NOT NULL,
    row        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (guard, mode, sample_id)
);
";

const RESPONSE_COLUMNS: &str = "run_id, sample_id, status, text, finish_reason, prompt_tokens, completion_tokens, latency_ms, attempts, error_class, error_message, model, finished_at";
const RUN_COLUMNS: &str = "run_id, created_at, target, model, base_url, is_mock, dataset, dataset_name, dataset_hash, params, config, tool";

/// An open run store.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// A response row as read, before its status is checked.
type RawResponse = (ResponseRow, String);

impl Store {
    /// Open (creating it and its folder if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sql {
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
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, run: &str, sample: &str, column: &'static str, value: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            run: run.to_string(),
            sample: sample.to_string(),
            column,
            value: value.chars().take(60).collect(),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // a panic while holding the lock leaves SQLite consistent (transactions roll back)
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record a run, or keep the existing record of the same id (a resumed run).
    pub fn upsert_run(&self, r: &RunRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                &format!("INSERT OR IGNORE INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![r.run_id, r.created_at, r.target, r.model, r.base_url, r.is_mock, r.dataset, r.dataset_name, r.dataset_hash, r.params.to_string(), r.config.to_string(), r.tool],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn run_rows(&self, sql: &str, arg: Option<&str>) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(sql).map_err(|e| self.err(e))?;
        let map = |r: &rusqlite::Row| {
            Ok((
                RunRecord {
                    run_id: r.get(0)?,
                    created_at: r.get(1)?,
                    target: r.get(2)?,
                    model: r.get(3)?,
                    base_url: r.get(4)?,
                    is_mock: r.get(5)?,
                    dataset: r.get(6)?,
                    dataset_name: r.get(7)?,
                    dataset_hash: r.get(8)?,
                    params: serde_json::Value::Null,
                    config: serde_json::Value::Null,
                    tool: r.get(11)?,
                },
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
            ))
        };
        let raw: Vec<(RunRecord, String, String)> = match arg {
            Some(a) => st.query_map([a], map),
            None => st.query_map([], map),
        }
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))?;
        raw.into_iter()
            .map(|(mut r, params, config)| {
                r.params = serde_json::from_str(&params)
                    .map_err(|_| self.corrupt(&r.run_id, "-", "runs.params", &params))?;
                r.config = serde_json::from_str(&config)
                    .map_err(|_| self.corrupt(&r.run_id, "-", "runs.config", &config))?;
                Ok(r)
            })
            .collect()
    }

    /// The record of one run.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .run_rows(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"),
                Some(run_id),
            )?
            .pop())
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.run_rows(
            &format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at, run_id"),
            None,
        )
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
        let conn = self.conn();
        let mut st = conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Insert a batch in one transaction. A settled row is never overwritten; an error row is
    /// replaced by a later attempt's row.
    pub fn insert_batch(&self, rows: &[ResponseRow]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut st = tx
                .prepare_cached(&format!(
                    "INSERT INTO responses ({RESPONSE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (run_id, sample_id) DO UPDATE SET
                       status = excluded.status, text = excluded.text, finish_reason = excluded.finish_reason,
                       prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                       latency_ms = excluded.latency_ms, attempts = excluded.attempts, error_class = excluded.error_class,
                       error_message = excluded.error_message, model = excluded.model, finished_at = excluded.finished_at
                     WHERE responses.status = 'error'"
                ))
                .map_err(|e| self.err(e))?;
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
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every response of a run, in sample-id order.
    pub fn responses(&self, run_id: &str) -> Result<Vec<ResponseRow>, StoreError> {
        let raw: Vec<RawResponse> = {
            let conn = self.conn();
            let mut st = conn
                .prepare(&format!(
                    "SELECT {RESPONSE_COLUMNS} FROM responses WHERE run_id = ?1 ORDER BY sample_id"
                ))
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([run_id], |r| {
                    Ok((
                        ResponseRow {
                            run_id: r.get(0)?,
                            sample_id: r.get(1)?,
                            status: Status::Error,
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
                        },
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        raw.into_iter()
            .map(|(mut row, status)| {
                row.status = Status::parse(&status).ok_or_else(|| {
                    self.corrupt(&row.run_id, &row.sample_id, "responses.status", &status)
                })?;
                Ok(row)
            })
            .collect()
    }

    /// The judges that have verdicts in a run, sorted.
    pub fn judges(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT DISTINCT judge FROM judgments WHERE run_id = ?1 ORDER BY judge")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Sample id → error class of a run's failed samples.
    pub fn failed_classes(
        &self,
        run_id: &str,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT sample_id, COALESCE(error_class, 'error') FROM responses WHERE run_id = ?1 AND status = 'error'")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// (status or error class, count) of a run.
    pub fn status_counts(&self, run_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT CASE WHEN status = 'error' THEN 'error:' || COALESCE(error_class, '?') ELSE status END AS k, COUNT(*) FROM responses WHERE run_id = ?1 GROUP BY k ORDER BY k")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Store verdicts; a (run, sample, judge, kind) already judged is never judged twice.
    pub fn insert_judgments(&self, rows: &[Judgment]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut st = tx
                .prepare_cached("INSERT OR IGNORE INTO judgments (run_id, sample_id, judge, kind, verdict, detail, raw, judge_model, prompt_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .map_err(|e| self.err(e))?;
            for j in rows {
                st.execute(params![
                    j.run_id,
                    j.sample_id,
                    j.judge,
                    j.kind.id(),
                    j.verdict.id(),
                    j.detail,
                    j.raw,
                    j.judge_model,
                    j.prompt_hash,
                    j.created_at
                ])
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// (sample_id, kind) pairs a judge has already judged in a run.
    pub fn judged(
        &self,
        run_id: &str,
        judge: &str,
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
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
    pub fn judgments(&self, run_id: &str) -> Result<Vec<Judgment>, StoreError> {
        let raw: Vec<(Judgment, String, String)> = {
            let conn = self.conn();
            let mut st = conn
                .prepare("SELECT run_id, sample_id, judge, kind, verdict, detail, raw, judge_model, prompt_hash, created_at FROM judgments WHERE run_id = ?1 ORDER BY sample_id, judge, kind")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([run_id], |r| {
                    Ok((
                        Judgment {
                            run_id: r.get(0)?,
                            sample_id: r.get(1)?,
                            judge: r.get(2)?,
                            kind: Measure::Safety,
                            verdict: Tri::Unscored,
                            detail: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                            raw: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            judge_model: r.get(7)?,
                            prompt_hash: r.get(8)?,
                            created_at: r.get(9)?,
                        },
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        raw.into_iter()
            .map(|(mut j, kind, verdict)| {
                j.kind = Measure::parse(&kind).ok_or_else(|| {
                    self.corrupt(&j.run_id, &j.sample_id, "judgments.kind", &kind)
                })?;
                j.verdict = Tri::parse(&verdict).ok_or_else(|| {
                    self.corrupt(&j.run_id, &j.sample_id, "judgments.verdict", &verdict)
                })?;
                Ok(j)
            })
            .collect()
    }

    /// Sample ids a guard has classified in a mode.
    pub fn guard_done(&self, guard: &str, mode: &str) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT sample_id FROM guard_verdicts WHERE guard = ?1 AND mode = ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![guard, mode], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Store guard verdicts (one transaction); an item already stored is kept.
    pub fn insert_guard_rows(
        &self,
        guard: &str,
        mode: &str,
        rows: &[GuardRow],
        created_at: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut st = tx
                .prepare_cached("INSERT OR IGNORE INTO guard_verdicts (guard, mode, sample_id, row, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(|e| self.err(e))?;
            for r in rows {
                let json = serde_json::to_string(r)
                    .map_err(|e| self.err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
                st.execute(params![guard, mode, r.sample_id, json, created_at])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every row of a guard in a mode, in sample order.
    pub fn guard_rows(&self, guard: &str, mode: &str) -> Result<Vec<GuardRow>, StoreError> {
        let raw: Vec<(String, String)> = {
            let conn = self.conn();
            let mut st = conn
                .prepare("SELECT sample_id, row FROM guard_verdicts WHERE guard = ?1 AND mode = ?2 ORDER BY sample_id")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map(params![guard, mode], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))?
        };
        raw.into_iter()
            .map(|(id, text)| {
                serde_json::from_str::<GuardRow>(&text).map_err(|_| {
                    self.corrupt(
                        &format!("{guard} ({mode})"),
                        &id,
                        "guard_verdicts.row",
                        &text,
                    )
                })
            })
            .collect()
    }

    /// Every (guard, mode) evaluated in the store.
    pub fn guard_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT DISTINCT guard, mode FROM guard_verdicts ORDER BY guard, mode")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_row_is_an_error_naming_run_sample_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("runs.db")).unwrap();
        s.conn()
            .execute_batch("INSERT INTO responses (run_id, sample_id, status, attempts, finished_at) VALUES ('r1', 's9', 'maybe', 1, 'now');
                            INSERT INTO judgments (run_id, sample_id, judge, kind, verdict, judge_model, prompt_hash, created_at) VALUES ('r1', 's9', 'h', 'colour', 'yes', 'h', 'x', 'now');
                            INSERT INTO guard_verdicts VALUES ('g', 'input', 's3', '{\"sample_id\":\"s3\"}', 'now');")
            .unwrap();
        let e = s.responses("r1").unwrap_err().to_string();
        assert!(
            e.contains("run r1, sample s9: column responses.status holds \"maybe\""),
            "{e}"
        );
        let e = s.judgments("r1").unwrap_err().to_string();
        assert!(e.contains("judgments.kind") && e.contains("colour"), "{e}");
        let e = s.guard_rows("g", "input").unwrap_err().to_string();
        assert!(
            e.contains("sample s3") && e.contains("guard_verdicts.row"),
            "{e}"
        );
    }
}
