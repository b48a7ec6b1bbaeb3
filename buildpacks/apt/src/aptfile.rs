//! The `Aptfile`: one Debian package per line, `name` or `name=version`; `#` starts a comment.

use blacklodge_common::error::{invisible_note, quote};
use std::fmt::Display;

/// The file at the app root that lists the packages.
pub(crate) const APTFILE: &str = "Aptfile";

/// A package the app asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Request {
    pub(crate) name: String,
    /// An exact version (`name=version`), as `apt-get install name=version` takes it.
    pub(crate) version: Option<String>,
    /// The 1-based line of the Aptfile.
    pub(crate) line: usize,
}

impl Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(version) => write!(f, "{}={version}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A line that is not a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MalformedLine {
    pub(crate) line: usize,
    pub(crate) text: String,
    /// Why it is not a package, and what is accepted.
    pub(crate) reason: String,
}

/// Debian policy 5.6.1: lower-case letters, digits, `+`, `-`, `.`; at least two characters,
/// starting with a letter or digit.
pub(crate) fn valid_name(name: &str) -> bool {
    name.len() >= 2
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// Debian policy 5.6.12: `[epoch:]upstream[-revision]` of alphanumerics and `.+~-:`,
/// starting with a digit.
fn valid_version(version: &str) -> bool {
    version.chars().next().is_some_and(|c| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~-:".contains(c))
}

/// The requests of an Aptfile, in file order (a package listed twice is kept once), or
/// every malformed line.
pub(crate) fn parse(text: &str) -> Result<Vec<Request>, Vec<MalformedLine>> {
    let mut requests: Vec<Request> = Vec::new();
    let mut malformed = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        match parse_line(content) {
            Ok((name, version)) => {
                if let Some(previous) = requests.iter().find(|request| request.name == name) {
                    if previous.version != version {
                        malformed.push(MalformedLine {
                            line,
                            text: raw.to_string(),
                            reason: format!(
                                "{name} is already listed on line {} as {}.",
                                previous.line,
                                quote(&previous.to_string())
                            ),
                        });
                    }
                    continue;
                }
                requests.push(Request {
                    name,
                    version,
                    line,
                });
            }
            Err(reason) => malformed.push(MalformedLine {
                line,
                text: raw.to_string(),
                reason: format!("{reason}{}", invisible_note(raw)),
            }),
        }
    }
    if malformed.is_empty() {
        Ok(requests)
    } else {
        Err(malformed)
    }
}

fn parse_line(content: &str) -> Result<(String, Option<String>), String> {
    if content.starts_with(':') {
        return Err("Extra repositories (`:repo:` lines) are not supported.".to_string());
    }
    if content.contains("://")
        || std::path::Path::new(content)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("deb"))
    {
        return Err(
            "URLs and .deb files are not supported: only packages of the stack's Debian release, verified against its signed index, are installed."
                .to_string(),
        );
    }
    if content.split_whitespace().count() > 1 {
        return Err("A line holds one package: put each package on its own line.".to_string());
    }
    let (name, version) = match content.split_once('=') {
        Some((name, version)) => (name, Some(version)),
        None => (content, None),
    };
    if !valid_name(name) {
        return Err(format!(
            "{} is not a Debian package name (lower-case letters, digits, `+`, `-` and `.`, starting with a letter or digit).",
            quote(name)
        ));
    }
    if let Some(version) = version
        && !valid_version(version)
    {
        return Err(format!(
            "{} is not a Debian version (a digit first, then letters, digits and `.+~-:`).",
            quote(version)
        ));
    }
    Ok((name.to_string(), version.map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_comments_and_duplicates() {
        let requests =
            parse("# build\nlibpq-dev\n\n  graphviz=2.42.2-7+deb12u1   # pinned\nlibpq-dev\ng++\n")
                .expect("valid");
        assert_eq!(
            requests,
            vec![
                Request {
                    name: "libpq-dev".into(),
                    version: None,
                    line: 2
                },
                Request {
                    name: "graphviz".into(),
                    version: Some("2.42.2-7+deb12u1".into()),
                    line: 4
                },
                Request {
                    name: "g++".into(),
                    version: None,
                    line: 6
                },
            ]
        );
    }

    #[test]
    fn every_malformed_line_is_reported() {
        let malformed = parse(
            "libpq-dev\nlibpq dev\nLibPQ\nhttps://example.com/x.deb\n:repo:deb http://x bookworm main\ncurl=latest\ncurl=7.88.1\n",
        )
        .expect_err("malformed");
        let reasons: Vec<(usize, &str)> = malformed
            .iter()
            .map(|line| (line.line, line.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    2,
                    "A line holds one package: put each package on its own line."
                ),
                (
                    3,
                    "'LibPQ' is not a Debian package name (lower-case letters, digits, `+`, `-` and `.`, starting with a letter or digit)."
                ),
                (
                    4,
                    "URLs and .deb files are not supported: only packages of the stack's Debian release, verified against its signed index, are installed."
                ),
                (5, "Extra repositories (`:repo:` lines) are not supported."),
                (
                    6,
                    "'latest' is not a Debian version (a digit first, then letters, digits and `.+~-:`)."
                ),
            ]
        );
        let conflict = parse("curl=7.88.1\ncurl=7.88.2\n").expect_err("conflict");
        assert_eq!(
            conflict[0].reason,
            "curl is already listed on line 1 as 'curl=7.88.1'."
        );
        let invisible = parse("libpq-dev\u{200b}\n").expect_err("invisible");
        assert_eq!(
            invisible[0].reason,
            "'libpq-dev\\u200b' is not a Debian package name (lower-case letters, digits, `+`, `-` and `.`, starting with a letter or digit). It contains an invisible character (shown escaped, e.g. \\x1b): delete it and retype the value."
        );
    }
}
