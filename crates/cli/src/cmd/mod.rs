//! One module per command: argument parsing and wiring, nothing else.

pub mod args;
pub mod build;
pub mod data;
pub mod diff;
pub mod eval;
pub mod guard;
pub mod judge;
pub mod progress;
pub mod render;
pub mod report;
pub mod run;
pub mod runs;

/// Print a line to standard output. A closed pipe (`ksafe … | head`) becomes an error the
/// command returns, which `main` recognises and ends quietly.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}

/// Print to standard output without a line break (see [`outln!`]).
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)?
    }};
}
