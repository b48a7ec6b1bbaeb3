//! Layers shared by the dependency buildpacks, one file per layer.

pub mod uv;
pub mod uv_cache;
pub mod venv;
