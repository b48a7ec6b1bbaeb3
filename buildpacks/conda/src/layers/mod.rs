//! The layers of the conda buildpack (the package cache is the shared download cache layer).

pub(crate) mod env;
