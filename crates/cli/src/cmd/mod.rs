pub mod build;
pub mod data;
pub mod eval;
pub mod guard;
pub mod judge;
pub mod render;
pub mod run;
pub mod runs;
