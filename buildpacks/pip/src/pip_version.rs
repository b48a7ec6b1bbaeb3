//! The pinned pip release, read at compile time from `requirements/pip.txt`.

const PIP_REQUIREMENT: &str = include_str!("../requirements/pip.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PinnedPip {
    pub(crate) version: String,
    pub(crate) sha256: String,
}

impl PinnedPip {
    pub(crate) fn wheel_filename(&self) -> String {
        format!("pip-{}-py3-none-any.whl", self.version)
    }
}

fn parse(text: &str) -> Option<PinnedPip> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))?;
    let (requirement, hash) = line.split_once("--hash=sha256:")?;
    let version = requirement.trim().strip_prefix("pip==")?.to_string();
    Some(PinnedPip {
        version,
        sha256: hash.trim().to_string(),
    })
}

pub(crate) fn pinned() -> PinnedPip {
    // Checked by the unit test below, so a malformed file never reaches a release.
    parse(PIP_REQUIREMENT).unwrap_or_else(|| panic!("requirements/pip.txt is malformed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pin_is_well_formed() {
        let pip = pinned();
        assert!(
            pip.version
                .split('.')
                .all(|part| part.parse::<u32>().is_ok()),
            "{pip:?}"
        );
        assert_eq!(pip.sha256.len(), 64);
        assert_eq!(
            pip.wheel_filename(),
            format!("pip-{}-py3-none-any.whl", pip.version)
        );
    }

    #[test]
    fn parses_hash_pinned_lines() {
        assert_eq!(
            parse("# c\npip==1.2 --hash=sha256:ab\n"),
            Some(PinnedPip {
                version: "1.2".into(),
                sha256: "ab".into()
            })
        );
        assert_eq!(parse("pip>=1"), None);
    }
}
