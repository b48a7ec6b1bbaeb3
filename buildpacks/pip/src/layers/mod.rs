pub(crate) mod pip;
pub(crate) mod venv;
