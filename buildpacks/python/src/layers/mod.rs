pub(crate) mod python;
pub(crate) mod stdlib_bytecode;
