//! Cache decisions as data: each cached layer compares its old and new metadata field by
//! field and the buildpack logs every reason a cached layer was discarded.

use std::fmt::Display;

/// `Some("Python version changed (3.11.1 → 3.11.2)")` when the values differ.
#[must_use]
pub fn changed<T: PartialEq + Display>(what: &str, old: &T, new: &T) -> Option<String> {
    (old != new).then(|| format!("{what} changed ({old} → {new})"))
}

/// Collects the reasons from several [`changed`] checks.
#[must_use]
pub fn reasons(checks: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    checks.into_iter().flatten().collect()
}

/// Logs why a cached layer was discarded, one detail line per reason.
pub fn log_discarded(layer: &str, reasons: &[String]) {
    crate::output::detail(format!("Discarding cached {layer}:"));
    for reason in reasons {
        println!("    - {reason}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_what_changed() {
        let found = reasons([
            changed("Python version", &"3.11.1", &"3.11.2"),
            changed("Architecture", &"x86_64", &"x86_64"),
        ]);
        assert_eq!(
            found,
            vec!["Python version changed (3.11.1 → 3.11.2)".to_string()]
        );
    }
}
