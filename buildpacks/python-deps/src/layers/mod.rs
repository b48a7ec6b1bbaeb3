//! Layers shared by the dependency buildpacks, one file per layer.

pub mod download_cache;
pub mod pip;
pub mod uv;
pub mod venv;
