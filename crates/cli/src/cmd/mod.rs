pub mod build;
pub mod data;
pub mod render;
