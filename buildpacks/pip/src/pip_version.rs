//! The pinned pip release, read at compile time from `requirements/pip.txt`.

use blacklodge_python_deps::tool::{self, PinnedWheel};

const PIP_REQUIREMENT: &str = include_str!("../requirements/pip.txt");

pub(crate) fn pinned() -> PinnedWheel {
    // Checked by the unit test below, so a malformed file never reaches a release.
    tool::parse_pin(PIP_REQUIREMENT).unwrap_or_else(|| panic!("requirements/pip.txt is malformed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pin_is_well_formed() {
        let pip = pinned();
        assert_eq!(pip.project, "pip");
        assert!(
            pip.version
                .split('.')
                .all(|part| part.parse::<u32>().is_ok()),
            "{pip:?}"
        );
        assert_eq!(pip.sha256.len(), 64);
    }
}
