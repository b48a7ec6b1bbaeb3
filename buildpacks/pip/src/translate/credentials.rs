//! What the venv's cache key may keep of pip's and uv's settings: which of them change what
//! is installed, and their values without the credentials URLs carry.

use super::{PipSettings, variables};
use blacklodge_common::download::sha256_bytes;
use std::collections::BTreeMap;

impl PipSettings {
    /// What the venv's cache key records of the settings: every `PIP_*` and `UV_*` variable
    /// that can change what is installed, by name, with a digest of its value. Credentials in
    /// URLs are taken out before the digest, so no secret (not even its hash) reaches the
    /// layer metadata, which is part of the image.
    pub(crate) fn install_key(&self) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter(|(name, value)| {
                !value.trim().is_empty()
                    && if name.starts_with("PIP_") {
                        !variables::has_no_effect(name)
                    } else {
                        !uv_var_has_no_effect(name)
                    }
            })
            .map(|(name, value)| {
                let digest = sha256_bytes(without_credentials(value.trim()).as_bytes());
                (name.clone(), digest[..16].to_string())
            })
            .collect()
    }
}

/// `UV_*` variables that change nothing installed: uv's output, cache, parallelism and
/// timeouts, and index credentials (which change who may download, not what is installed).
fn uv_var_has_no_effect(name: &str) -> bool {
    [
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_NO_PROGRESS",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_HTTP_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_NO_WRAP",
    ]
    .contains(&name)
        || ["_USERNAME", "_PASSWORD", "_TOKEN"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// `value` with the user and password taken out of every URL in it (`https://u:p@host/x`
/// → `https://host/x`).
pub(super) fn without_credentials(value: &str) -> String {
    value
        .split_whitespace()
        .map(|token| {
            let Some((scheme, rest)) = token.split_once("://") else {
                return token.to_string();
            };
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{host}/{path}"),
                None => token.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
