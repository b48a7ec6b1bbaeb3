pub(crate) mod venv;
