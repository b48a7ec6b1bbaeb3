//! Build-time configuration: `BP_*` variables, validated. Unknown or malformed values are
//! errors that name the variable and the accepted values, never silently ignored.

use crate::error::UserError;
use libcnb::Env;

/// A `BP_*` variable with a value we cannot accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidVariable {
    pub name: String,
    pub value: String,
    pub expected: String,
}

impl From<&InvalidVariable> for UserError {
    fn from(error: &InvalidVariable) -> Self {
        UserError::new(
            format!("Invalid value for {}", error.name),
            format!(
                "{}={} is not accepted.{}\nAccepted: {}.",
                error.name,
                crate::error::quote(&error.value),
                crate::error::invisible_note(&error.value),
                error.expected
            ),
            format!(
                "Set {} to an accepted value (in project.toml [[io.buildpacks.build.env]] or with `pack build --env`), or unset it.",
                error.name
            ),
        )
    }
}

/// A non-empty string value, trimmed; `None` when unset or blank.
#[must_use]
pub fn string(env: &Env, name: &str) -> Option<String> {
    env.get(name)
        .map(|value| value.to_string_lossy().trim().to_string())
        .filter(|value| !value.is_empty())
}

/// A boolean: `true/false`, `1/0`, `yes/no` (any case); `None` when unset.
///
/// # Errors
/// [`InvalidVariable`] for any other value.
pub fn boolean(env: &Env, name: &str) -> Result<Option<bool>, InvalidVariable> {
    let Some(value) = string(env, name) else {
        return Ok(None);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        _ => Err(InvalidVariable {
            name: name.to_string(),
            value,
            expected: "true or false".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_strict() {
        let mut env = Env::new();
        env.insert("BP_A", "Yes");
        env.insert("BP_B", "maybe");
        assert_eq!(boolean(&env, "BP_A"), Ok(Some(true)));
        assert_eq!(boolean(&env, "BP_UNSET"), Ok(None));
        let error = boolean(&env, "BP_B").expect_err("maybe is not a boolean");
        assert_eq!(
            UserError::from(&error).detail,
            "BP_B='maybe' is not accepted.\nAccepted: true or false."
        );
    }
}
