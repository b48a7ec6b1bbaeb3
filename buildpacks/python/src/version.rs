//! Python versions as users write them in `.python-version` or `BP_PYTHON_VERSION`:
//! `3.12` (newest patch of that minor) or `3.12.4` (exactly that release).

use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PythonVersion {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) patch: u16,
}

impl Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for PythonVersion {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match VersionRequest::from_str(text)? {
            VersionRequest::Exact(version) => Ok(version),
            VersionRequest::Minor { .. } => Err(()),
        }
    }
}

/// What the app asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionRequest {
    Minor { major: u16, minor: u16 },
    Exact(PythonVersion),
}

impl VersionRequest {
    pub(crate) fn matches(self, version: PythonVersion) -> bool {
        match self {
            Self::Minor { major, minor } => version.major == major && version.minor == minor,
            Self::Exact(exact) => exact == version,
        }
    }
}

impl Display for VersionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Minor { major, minor } => write!(f, "{major}.{minor}"),
            Self::Exact(version) => version.fmt(f),
        }
    }
}

impl FromStr for VersionRequest {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let parts = text
            .trim()
            .split('.')
            .map(|part| {
                // Leading '+' or '-' and empty parts are not versions.
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    Err(())
                } else {
                    part.parse::<u16>().map_err(|_| ())
                }
            })
            .collect::<Result<Vec<_>, ()>>()?;
        match parts[..] {
            [major, minor] => Ok(Self::Minor { major, minor }),
            [major, minor, patch] => Ok(Self::Exact(PythonVersion {
                major,
                minor,
                patch,
            })),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minor_and_exact_requests() {
        assert_eq!(
            "3.12".parse(),
            Ok(VersionRequest::Minor {
                major: 3,
                minor: 12
            })
        );
        assert_eq!(
            " 3.11.2 ".parse(),
            Ok(VersionRequest::Exact(PythonVersion {
                major: 3,
                minor: 11,
                patch: 2
            }))
        );
        for bad in ["3", "3.x", "python-3.12", "3.12.1.4", "", "3..1", "3.12rc1"] {
            assert_eq!(bad.parse::<VersionRequest>(), Err(()), "{bad}");
        }
    }

    #[test]
    fn minor_requests_match_any_patch() {
        let request: VersionRequest = "3.11".parse().expect("valid");
        assert!(request.matches("3.11.9".parse().expect("valid")));
        assert!(!request.matches("3.12.0".parse().expect("valid")));
    }
}
