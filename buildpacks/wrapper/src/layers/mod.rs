pub(crate) mod entrypoint;
pub(crate) mod harness;
pub(crate) mod pip;
pub(crate) mod pip_cache;
