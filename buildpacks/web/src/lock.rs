//! `requirements/servers.lock`: the servers this buildpack installs when the app lacks them,
//! pinned with the sha256 of every file (written by `scripts/lock.sh` from `servers.in`).

use blacklodge_python_deps::pinned_lock::{self, Locked};
use std::collections::BTreeSet;

pub(crate) const LOCK: &str = include_str!("../requirements/servers.lock");
#[cfg(test)]
const INPUT: &str = include_str!("../requirements/servers.in");

/// The lock's entries for the distributions the app does not have.
pub(crate) fn missing_from(installed: &BTreeSet<String>) -> Vec<Locked> {
    pinned_lock::missing_from(&pinned_lock::parse(LOCK), installed).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_up_to_date_with_the_servers() {
        // scripts/lock.sh writes the requirements it locked on the first line.
        let servers: Vec<&str> = INPUT
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        assert_eq!(
            LOCK.lines().next().unwrap_or_default(),
            format!(
                "# The servers blacklodge/web installs when the app lacks them, locked: {}",
                servers.join(", ")
            ),
            "run buildpacks/web/scripts/lock.sh"
        );
        let names: Vec<String> = pinned_lock::parse(LOCK)
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        for server in ["gunicorn", "uvicorn"] {
            assert!(names.iter().any(|name| name == server), "{names:?}");
        }
        assert!(
            pinned_lock::parse(LOCK)
                .iter()
                .all(|entry| entry.requirement.contains("--hash=sha256:")),
            "every entry is hash-pinned"
        );
    }
}
