//! Which CPython minors the buildpack supports (`data/support.toml`): older ones are
//! end-of-life and refused.

use crate::version::MinorVersion;
use serde::Deserialize;

const SUPPORT: &str = include_str!("../data/support.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Support {
    pub(crate) oldest: MinorVersion,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SupportFile {
    oldest: String,
}

impl Support {
    /// The shipped support policy. Its validity is checked by the unit tests, so a bad edit
    /// of the data file cannot ship.
    pub(crate) fn shipped() -> Self {
        Self::parse(SUPPORT).unwrap_or(Self {
            oldest: MinorVersion {
                major: 3,
                minor: 10,
            },
        })
    }

    fn parse(text: &str) -> Option<Self> {
        let file: SupportFile = toml::from_str(text).ok()?;
        Some(Self {
            oldest: file.oldest.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_support_file_is_valid() {
        assert!(Support::parse(SUPPORT).is_some(), "data/support.toml");
        assert_eq!(Support::parse("oldest = \"3.10.1\"\n"), None);
    }
}
