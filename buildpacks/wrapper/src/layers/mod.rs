pub(crate) mod entrypoint;
pub(crate) mod harness;
