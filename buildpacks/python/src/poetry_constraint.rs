//! Poetry's version constraint syntax (`[tool.poetry.dependencies] python = "^3.11"`),
//! translated to PEP 440 specifiers so one matcher serves every file.
//!
//! Supported, as documented by Poetry (<https://python-poetry.org/docs/dependency-specification/>):
//! caret `^3.11` (`>=3.11,<4`), tilde `~3.11` (`>=3.11,<3.12`), wildcard `3.11.*`, `*`,
//! comparison operators and `~=`, `,` or spaces for "and", `||` for "or". A bare version
//! means that release line: `3.11` is `==3.11.*`, `3.11.4` is `==3.11.4`.

use pep440_rs::VersionSpecifiers;
use std::str::FromStr;

const OPERATORS: &[&str] = &["~=", "==", "!=", ">=", "<=", ">", "<", "=", "^", "~"];

/// The PEP 440 alternatives (any may match) equivalent to a Poetry constraint.
pub(crate) fn to_specifiers(constraint: &str) -> Result<Vec<VersionSpecifiers>, String> {
    if constraint.trim().is_empty() {
        return Err("it is empty".to_string());
    }
    constraint
        .split("||")
        .flat_map(|alternative| alternative.split('|'))
        .map(|alternative| {
            let translated = atoms(alternative)?
                .iter()
                .map(|atom| translate(atom))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            VersionSpecifiers::from_str(&translated.join(", "))
                .map_err(|error| error.to_string().trim_end().to_string())
        })
        .collect()
}

/// Splits `>= 3.9, <4` into `[">=3.9", "<4"]`: an operator may be separated from its version.
fn atoms(alternative: &str) -> Result<Vec<String>, String> {
    let mut atoms: Vec<String> = Vec::new();
    let mut pending_operator: Option<&str> = None;
    for token in alternative
        .split([',', ' ', '\t'])
        .filter(|t| !t.is_empty())
    {
        match pending_operator.take() {
            Some(operator) => atoms.push(format!("{operator}{token}")),
            None if OPERATORS.contains(&token) => pending_operator = Some(token),
            None => atoms.push(token.to_string()),
        }
    }
    match pending_operator {
        Some(operator) => Err(format!("'{operator}' is not followed by a version")),
        None if atoms.is_empty() => Err("an alternative between '||' is empty".to_string()),
        None => Ok(atoms),
    }
}

/// Release numbers of a plain version (`3.11.4` → `[3, 11, 4]`).
fn release(version: &str) -> Result<Vec<u64>, String> {
    version
        .split('.')
        .map(|part| {
            part.parse::<u64>()
                .map_err(|_| format!("'{version}' is not a version"))
        })
        .collect()
}

fn dotted(parts: &[u64]) -> String {
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn translate(atom: &str) -> Result<Vec<String>, String> {
    if atom == "*" {
        return Ok(Vec::new());
    }
    if let Some(version) = atom.strip_prefix('^') {
        let parts = release(version)?;
        // The first non-zero component may not change (^0.2 is <0.3, ^3.11 is <4).
        let index = parts
            .iter()
            .position(|part| *part != 0)
            .unwrap_or(parts.len() - 1);
        let mut upper = parts[..=index].to_vec();
        upper[index] += 1;
        return Ok(vec![format!(">={version}"), format!("<{}", dotted(&upper))]);
    }
    if let Some(version) = atom.strip_prefix('~').filter(|v| !v.starts_with('=')) {
        let parts = release(version)?;
        let upper = match parts[..] {
            [major] => vec![major + 1],
            [major, minor, ..] => vec![major, minor + 1],
            [] => return Err(format!("'{atom}' has no version")),
        };
        return Ok(vec![format!(">={version}"), format!("<{}", dotted(&upper))]);
    }
    if let Some(version) = atom.strip_prefix('=').filter(|v| !v.starts_with('=')) {
        return Ok(vec![format!("=={version}")]);
    }
    if atom.starts_with(|c: char| "<>=!~".contains(c)) {
        return Ok(vec![atom.to_string()]);
    }
    // A bare version: that release line.
    if atom.ends_with(".*") {
        return Ok(vec![format!("=={atom}")]);
    }
    let parts = release(atom)?;
    Ok(vec![if parts.len() < 3 {
        format!("=={atom}.*")
    } else {
        format!("=={atom}")
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pep440(constraint: &str) -> String {
        to_specifiers(constraint)
            .expect("valid constraint")
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" || ")
    }

    #[test]
    fn caret_and_tilde() {
        assert_eq!(pep440("^3.11"), ">=3.11, <4");
        assert_eq!(pep440("^3.11.4"), ">=3.11.4, <4");
        assert_eq!(pep440("~3.11"), ">=3.11, <3.12");
        assert_eq!(pep440("~3.11.4"), ">=3.11.4, <3.12");
        assert_eq!(pep440("~=3.11"), "~=3.11");
    }

    #[test]
    fn bare_versions_are_release_lines() {
        assert_eq!(pep440("3.11"), "==3.11.*");
        assert_eq!(pep440("3.11.4"), "==3.11.4");
        assert_eq!(pep440("3.12.*"), "==3.12.*");
        assert_eq!(pep440("=3.12.1"), "==3.12.1");
    }

    #[test]
    fn and_or_and_spacing() {
        assert_eq!(pep440(">= 3.10, < 3.13"), ">=3.10, <3.13");
        assert_eq!(pep440(">=3.10 <3.13"), ">=3.10, <3.13");
        assert_eq!(pep440("~3.10 || ^3.12"), ">=3.10, <3.11 || >=3.12, <4");
        assert_eq!(pep440("*"), "");
    }

    #[test]
    fn malformed_constraints_are_errors() {
        assert_eq!(to_specifiers(""), Err("it is empty".to_string()));
        assert_eq!(
            to_specifiers("^three"),
            Err("'three' is not a version".to_string())
        );
        assert_eq!(
            to_specifiers(">="),
            Err("'>=' is not followed by a version".to_string())
        );
        assert!(to_specifiers("3.11 ||").is_err());
        assert!(to_specifiers(">=3.x").is_err());
    }
}
