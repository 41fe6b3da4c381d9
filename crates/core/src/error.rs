//! The error type of dataset reading and writing, [`DatasetError`], and its [`Result`] alias.

use std::path::PathBuf;

/// Errors of reading and writing datasets. Every variant names the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One line (or row) of an input file is bad.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file the line is in.
        path: PathBuf,
        /// The 1-based line (or row) number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A file or directory is not what ksafe expects (wrong format, missing, or unsafe path).
    #[error("{path}: {message}")]
    Invalid {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The Parquet library failed to read or write a file.
    #[error("{path}: parquet: {message}")]
    Parquet {
        /// The Parquet file.
        path: PathBuf,
        /// The Parquet library's error message.
        message: String,
    },
}

impl DatasetError {
    /// A [`DatasetError::Io`] error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DatasetError {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
    /// A [`DatasetError::Invalid`] error for `path` with `message`.
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> DatasetError {
        DatasetError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A result whose error defaults to [`DatasetError`].
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;
