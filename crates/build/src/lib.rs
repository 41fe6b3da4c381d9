//! ksafe-build: the general-to-local construction pipeline of KSAFE-MM, and its offline renderer.
//!
//! - [`render`]: Korean text drawn with a pinned, embedded font into typography images (`T`),
//!   image + typography composites (`IT`) and seven kinds of scene cards.

pub mod filters;
pub mod josa;
pub mod locale;
pub mod model;
pub mod pipeline;
pub mod render;
mod stage_c;
mod stage_g;
