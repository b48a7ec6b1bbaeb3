//! Build variables that list names (dependency groups, extras, Pipenv categories):
//! comma-separated, or `all`; anything else is an error, never silently ignored.

use blacklodge_common::env::{self, InvalidVariable};
use libcnb::Env;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    /// Unset.
    None,
    All,
    Some(Vec<String>),
}

impl Names {
    /// `none`, `all` or `a, b`: for the log and cache keys.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Names::None => "none".to_string(),
            Names::All => "all".to_string(),
            Names::Some(names) => names.join(", "),
        }
    }
}

/// Parses `variable`.
///
/// # Errors
/// [`InvalidVariable`] for an empty list or a name with characters other than letters,
/// digits, `-`, `_` and `.`.
pub fn parse(env: &Env, variable: &str) -> Result<Names, InvalidVariable> {
    let Some(value) = env::string(env, variable) else {
        return Ok(Names::None);
    };
    if value.eq_ignore_ascii_case("all") {
        return Ok(Names::All);
    }
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let valid = |name: &String| {
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if list.is_empty() || !list.iter().all(valid) {
        return Err(InvalidVariable {
            name: variable.to_string(),
            value,
            expected: "comma-separated names (letters, digits, - _ .), or `all`".to_string(),
        });
    }
    Ok(Names::Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_all_and_garbage() {
        let mut env = Env::new();
        assert_eq!(parse(&env, "BP_X"), Ok(Names::None));
        env.insert("BP_X", "dev, docs");
        assert_eq!(
            parse(&env, "BP_X"),
            Ok(Names::Some(vec!["dev".into(), "docs".into()]))
        );
        env.insert("BP_X", "ALL");
        assert_eq!(parse(&env, "BP_X"), Ok(Names::All));
        env.insert("BP_X", "dev;rm -rf");
        assert!(parse(&env, "BP_X").is_err());
    }
}
