//! Progress of a long run on stderr: a bar with a measured rate and ETA on a terminal; one plain
//! line every 10 seconds when stderr is a pipe or a log file (nohup, CI), so a multi-hour run
//! shows life.

use indicatif::{ProgressBar, ProgressStyle};
use ksafe_eval::record::Status;
use ksafe_eval::runner::{Resume, RunProgress};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seconds between two progress lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Counts {
    total: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    filtered: AtomicU64,
    retrying: AtomicI64,
}

impl Counts {
    fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.filtered.load(Ordering::Relaxed)
    }

    /// "ok 120 · failed 3 · filtered 0 · retrying 2 · 41.2/s · eta 1m05s"
    fn line(&self, started: Instant) -> String {
        let done = self.done();
        let total = self.total.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        let (rate, eta) = if done > 0 && secs >= 1.0 {
            let rate = done as f64 / secs;
            (
                format!("{rate:.1}/s"),
                fmt_secs(total.saturating_sub(done) as f64 / rate),
            )
        } else {
            ("–/s".to_string(), "–".to_string())
        };
        format!(
            "ok {} · failed {} · filtered {} · retrying {} · {rate} · eta {eta}",
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.filtered.load(Ordering::Relaxed),
            self.retrying.load(Ordering::Relaxed).max(0),
        )
    }
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
pub fn fmt_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The progress of one target's run.
pub struct EvalProgress {
    name: String,
    counts: Arc<Counts>,
    started: Mutex<Instant>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
    bar: Option<ProgressBar>,
}

impl EvalProgress {
    /// Progress for the target `name`.
    pub fn new(name: &str) -> Arc<EvalProgress> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let pb = ProgressBar::new(0);
            pb.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            pb.set_prefix(name.to_string());
            pb
        });
        Arc::new(EvalProgress {
            name: name.to_string(),
            counts: Arc::new(Counts::default()),
            started: Mutex::new(Instant::now()),
            stop: Arc::new(AtomicBool::new(false)),
            ticker: Mutex::new(None),
            bar,
        })
    }

    /// Stop the display (and its ticker).
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().unwrap().take() {
            let _ = t.join();
        }
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

impl RunProgress for EvalProgress {
    fn start(&self, total: u64, resume: &Resume) {
        self.counts.total.store(total, Ordering::Relaxed);
        *self.started.lock().unwrap() = Instant::now();
        if resume.settled > 0 {
            let failed: u64 = resume.failed.values().sum();
            let hint = if failed > 0 {
                format!(
                    " ({failed} of them failed: {} — ask them again with --retry-errors)",
                    resume
                        .failed
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            eprintln!(
                "resuming: {} samples already stored{hint}, {total} to go",
                resume.settled
            );
        }
        let (counts, stop, name) = (self.counts.clone(), self.stop.clone(), self.name.clone());
        let started = *self.started.lock().unwrap();
        let bar = self.bar.clone();
        *self.ticker.lock().unwrap() = Some(std::thread::spawn(move || {
            let tick = if bar.is_some() {
                Duration::from_millis(250)
            } else {
                LOG_EVERY
            };
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < tick {
                    continue;
                }
                last = Instant::now();
                let done = counts.done();
                let total = counts.total.load(Ordering::Relaxed);
                match &bar {
                    Some(pb) => {
                        pb.set_length(total);
                        pb.set_position(done);
                        pb.set_message(counts.line(started));
                    }
                    None => eprintln!("{name}: {done}/{total} · {}", counts.line(started)),
                }
            }
        }));
    }

    fn finished(&self, status: Status) {
        match status {
            Status::Ok => &self.counts.ok,
            Status::ContentFilter => &self.counts.filtered,
            Status::Error => &self.counts.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    fn retrying(&self, d: i64) {
        self.counts.retrying.fetch_add(d, Ordering::Relaxed);
    }
}

impl Drop for EvalProgress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
