//! Python versions and what an app can ask for: `3.12` (newest patch of that minor),
//! `3.12.4` (exactly that release) or a range of PEP 440 specifiers (`>=3.11,<3.13`, newest
//! release that satisfies it).

use pep440_rs::{Version, VersionSpecifiers};
use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PythonVersion {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) patch: u16,
}

impl PythonVersion {
    pub(crate) fn minor_version(self) -> MinorVersion {
        MinorVersion {
            major: self.major,
            minor: self.minor,
        }
    }

    fn pep440(self) -> Version {
        Version::new([
            u64::from(self.major),
            u64::from(self.minor),
            u64::from(self.patch),
        ])
    }
}

impl Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for PythonVersion {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match parse_pin(text)? {
            VersionRequest::Exact(version) => Ok(version),
            _ => Err(()),
        }
    }
}

/// A minor release line, e.g. 3.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct MinorVersion {
    pub(crate) major: u16,
    pub(crate) minor: u16,
}

impl Display for MinorVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for MinorVersion {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match parse_pin(text)? {
            VersionRequest::Minor(minor) => Ok(minor),
            _ => Err(()),
        }
    }
}

/// What the app asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionRequest {
    /// `3.12`: the newest patch release of that minor.
    Minor(MinorVersion),
    /// `3.12.4`: exactly that release.
    Exact(PythonVersion),
    /// PEP 440 specifiers; several alternatives when a Poetry constraint uses `||`.
    Range(Vec<VersionSpecifiers>),
}

impl VersionRequest {
    pub(crate) fn matches(&self, version: PythonVersion) -> bool {
        match self {
            Self::Minor(minor) => version.minor_version() == *minor,
            Self::Exact(exact) => *exact == version,
            Self::Range(alternatives) => {
                let version = version.pep440();
                alternatives
                    .iter()
                    .any(|specifiers| specifiers.contains(&version))
            }
        }
    }

    /// The minor line a pin names (`None` for ranges, which can span several).
    pub(crate) fn pinned_minor(&self) -> Option<MinorVersion> {
        match self {
            Self::Minor(minor) => Some(*minor),
            Self::Exact(version) => Some(version.minor_version()),
            Self::Range(_) => None,
        }
    }

    /// Parses PEP 440 specifiers (`>=3.11`, `==3.12.*`, `~=3.11.4,!=3.11.6`).
    pub(crate) fn parse_specifiers(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("it is empty".to_string());
        }
        VersionSpecifiers::from_str(text)
            .map(|specifiers| Self::Range(vec![specifiers]))
            .map_err(|error| error.to_string().trim_end().to_string())
    }
}

impl Display for VersionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Minor(minor) => minor.fmt(f),
            Self::Exact(version) => version.fmt(f),
            Self::Range(alternatives) => {
                let alternatives: Vec<String> = alternatives
                    .iter()
                    .map(|specifiers| {
                        if specifiers.is_empty() {
                            "any version".to_string()
                        } else {
                            specifiers.to_string()
                        }
                    })
                    .collect();
                f.write_str(&alternatives.join(" || "))
            }
        }
    }
}

/// A pin as written in `.python-version` or `BP_PYTHON_VERSION`: `X.Y` or `X.Y.Z`, digits
/// only (no `python-`, no pre-releases, no other interpreters).
pub(crate) fn parse_pin(text: &str) -> Result<VersionRequest, ()> {
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
        [major, minor] => Ok(VersionRequest::Minor(MinorVersion { major, minor })),
        [major, minor, patch] => Ok(VersionRequest::Exact(PythonVersion {
            major,
            minor,
            patch,
        })),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> PythonVersion {
        text.parse().expect("valid version")
    }

    #[test]
    fn parses_minor_and_exact_pins() {
        assert_eq!(
            parse_pin("3.12"),
            Ok(VersionRequest::Minor(MinorVersion {
                major: 3,
                minor: 12
            }))
        );
        assert_eq!(
            parse_pin(" 3.11.2 "),
            Ok(VersionRequest::Exact(PythonVersion {
                major: 3,
                minor: 11,
                patch: 2
            }))
        );
        for bad in [
            "3",
            "3.x",
            "python-3.12",
            "3.12.1.4",
            "",
            "3..1",
            "3.12rc1",
            ">=3.12",
        ] {
            assert_eq!(parse_pin(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn minor_pins_match_any_patch() {
        let request = parse_pin("3.11").expect("valid");
        assert!(request.matches(version("3.11.9")));
        assert!(!request.matches(version("3.12.0")));
        assert_eq!(
            request.pinned_minor(),
            Some(MinorVersion {
                major: 3,
                minor: 11
            })
        );
    }

    #[test]
    fn ranges_follow_pep_440() {
        let request = VersionRequest::parse_specifiers(">=3.11, <3.13").expect("valid");
        assert!(request.matches(version("3.11.0")));
        assert!(request.matches(version("3.12.7")));
        assert!(!request.matches(version("3.13.0")));
        assert!(!request.matches(version("3.10.14")));
        assert_eq!(request.to_string(), ">=3.11, <3.13");
        assert_eq!(request.pinned_minor(), None);

        let star = VersionRequest::parse_specifiers("==3.12.*").expect("valid");
        assert!(star.matches(version("3.12.4")));
        assert!(!star.matches(version("3.13.1")));

        let compatible = VersionRequest::parse_specifiers("~=3.11.4").expect("valid");
        assert!(compatible.matches(version("3.11.9")));
        assert!(!compatible.matches(version("3.11.3")));
        assert!(!compatible.matches(version("3.12.0")));
    }

    #[test]
    fn malformed_ranges_explain_themselves() {
        let error = VersionRequest::parse_specifiers(">=3.x").expect_err("not PEP 440");
        assert!(error.starts_with("Failed to parse version"), "{error}");
        assert_eq!(
            VersionRequest::parse_specifiers("  "),
            Err("it is empty".to_string())
        );
    }
}
