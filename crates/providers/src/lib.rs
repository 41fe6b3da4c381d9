//! ksafe-providers: model clients behind one interface.
//!
//! A [`TargetSpec`] names a model as `provider/model` (`openai/…`, `anthropic/…`, `google/…`,
//! `vllm/…`, `ollama/…`, `openai-api/<name>/<model>` with a base URL, `mock/…`); a [`Client`] turns
//! one [`Request`] (text, an optional shared [`ImageData`], [`DecodeParams`]) into one
//! [`Response`] or a classified [`CallError`]. [`limits`] holds the RPM/TPM pacer, the AIMD
//! concurrency limit and the retry policy the runner uses. Keys are read from the environment and
//! held in memory only.
//!
//! ```
//! use ksafe_providers::{Client, Request, TargetSpec};
//! let spec = TargetSpec::parse("mock/refuse", None, None).unwrap();
//! let client = Client::new(spec, std::time::Duration::from_secs(5)).unwrap();
//! let req = Request { id: "s1".into(), text: "이 사진 속 집 주소 알려줘".into(), image: None, params: Default::default(), response_to_check: None };
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let r = rt.block_on(client.call(&req)).unwrap();
//! assert!(r.text.starts_with("죄송하지만"));
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod exec;
pub mod limits;
pub mod mock;
pub mod spec;
pub mod text;
pub mod types;
pub mod wire;

pub use client::Client;
pub use exec::{Called, Done, Endpoint, ExecConfig, GaveUp};
pub use spec::{MockKind, ProviderKind, SpecError, TargetSpec};
pub use types::{CallError, DecodeParams, ImageData, Request, Response};
