//! The stack's distribution: the one the app runs on (the CNB target, from the run image's
//! labels) and the one the build runs on (the build image's `/etc/os-release`). They must be
//! the same: the runtime is chosen for the first, packages are compiled on the second.

use crate::manifest::Distro;

/// Where the build image describes itself.
pub(crate) const OS_RELEASE: &str = "/etc/os-release";

/// The distribution `os-release` text names (`ID` and `VERSION_ID`), if it names both.
pub(crate) fn from_os_release(text: &str) -> Option<Distro> {
    let field = |key: &str| {
        text.lines().find_map(|line| {
            let value = line.trim().strip_prefix(key)?.strip_prefix('=')?;
            Some(value.trim().trim_matches(['"', '\'']).to_string())
        })
    };
    Some(Distro {
        name: field("ID")?,
        version: field("VERSION_ID")?,
    })
}

/// The build image's distribution, when its `os-release` can be read and names one.
pub(crate) fn build_image() -> Option<Distro> {
    fs_err::read_to_string(OS_RELEASE)
        .ok()
        .as_deref()
        .and_then(from_os_release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_id_and_version_id() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n";
        assert_eq!(
            from_os_release(text),
            Some(Distro {
                name: "debian".into(),
                version: "13".into()
            })
        );
        assert_eq!(from_os_release("ID=debian\nVERSION_CODENAME=sid\n"), None);
    }
}
