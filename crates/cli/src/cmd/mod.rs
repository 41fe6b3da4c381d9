pub mod data;
pub mod render;
