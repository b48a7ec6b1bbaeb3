pub(crate) mod debs;
pub(crate) mod packages;
