pub(crate) mod env;
pub(crate) mod server;
