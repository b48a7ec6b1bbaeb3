//! `requirements/servers.lock`: the servers this buildpack installs when the app lacks them,
//! pinned with the sha256 of every file (written by `scripts/lock.sh` from `servers.in`).

use blacklodge_common::pypi;

pub(crate) const LOCK: &str = include_str!("../requirements/servers.lock");
#[cfg(test)]
const INPUT: &str = include_str!("../requirements/servers.in");

/// One entry of the lock: the normalized name and the requirement text pip reads
/// (`name==version ; marker --hash=sha256:…`, comments removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locked {
    pub(crate) name: String,
    pub(crate) requirement: String,
}

/// Parses pip's requirements format as uv writes it: an entry starts at an unindented line,
/// its hashes follow on indented continuation lines; comment lines are dropped.
pub(crate) fn parse(text: &str) -> Vec<Locked> {
    let mut entries: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some(entry) = entries.last_mut() {
                entry.push(trimmed);
            }
        } else {
            entries.push(vec![trimmed]);
        }
    }
    entries
        .into_iter()
        .filter_map(|lines| {
            let (name, _) = lines[0].split_once("==")?;
            Some(Locked {
                name: pypi::normalize(name.trim()),
                requirement: lines.join("\n    "),
            })
        })
        .collect()
}

/// The lock's entries for the distributions the app does not have.
pub(crate) fn missing_from(installed: &std::collections::BTreeSet<String>) -> Vec<Locked> {
    parse(LOCK)
        .into_iter()
        .filter(|entry| !installed.contains(&entry.name))
        .collect()
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
        let names: Vec<String> = parse(LOCK).into_iter().map(|entry| entry.name).collect();
        for server in ["gunicorn", "uvicorn"] {
            assert!(names.iter().any(|name| name == server), "{names:?}");
        }
        assert!(
            parse(LOCK)
                .iter()
                .all(|entry| entry.requirement.contains("--hash=sha256:")),
            "every entry is hash-pinned"
        );
    }

    #[test]
    fn entries_keep_markers_and_hashes_and_the_app_keeps_its_own() {
        let text = "# header\nclick==8.5.1 \\\n    --hash=sha256:aa\n    # via uvicorn\nuvicorn==0.54.0 ; python_full_version < '3.11' \\\n    --hash=sha256:bb\n";
        assert_eq!(
            parse(text),
            vec![
                Locked {
                    name: "click".into(),
                    requirement: "click==8.5.1 \\\n    --hash=sha256:aa".into(),
                },
                Locked {
                    name: "uvicorn".into(),
                    requirement:
                        "uvicorn==0.54.0 ; python_full_version < '3.11' \\\n    --hash=sha256:bb"
                            .into(),
                },
            ]
        );
        let installed = ["click".to_string()].into_iter().collect();
        assert!(
            missing_from(&installed)
                .iter()
                .all(|entry| entry.name != "click")
        );
    }
}
