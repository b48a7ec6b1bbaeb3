//! Which installer runs `requirements.txt`: uv by default (the same work in well under half
//! of pip's time), pip with `BP_PIP_INSTALLER=pip`.

use blacklodge_common::env::{self, InvalidVariable};
use blacklodge_python_deps::tool::{self, PinnedWheel};
use libcnb::Env;
use std::path::Path;

/// The variable that chooses the installer.
pub(crate) const INSTALLER_VARIABLE: &str = "BP_PIP_INSTALLER";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Installer {
    Uv,
    Pip,
}

impl Installer {
    /// The pinned release of this installer.
    pub(crate) fn pin(self) -> PinnedWheel {
        match self {
            Self::Uv => tool::uv(),
            Self::Pip => tool::pip(),
        }
    }
}

/// Why this installer, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Default,
    Variable,
    /// Not chosen, and `vendor/` has pip's pinned wheel but not uv's: an offline build
    /// prepared for pip keeps working.
    VendoredPip,
}

/// The installer `BP_PIP_INSTALLER` asks for (`uv`, the default, or `pip`), or uv's absence
/// from a `vendor/` that has pip's wheel.
///
/// # Errors
/// [`InvalidVariable`] for any other value.
pub(crate) fn select(env: &Env, app_dir: &Path) -> Result<(Installer, Reason), InvalidVariable> {
    match env::string(env, INSTALLER_VARIABLE)
        .map(|value| value.to_ascii_lowercase())
        .as_deref()
    {
        Some("uv") => Ok((Installer::Uv, Reason::Variable)),
        Some("pip") => Ok((Installer::Pip, Reason::Variable)),
        Some(_) => Err(InvalidVariable {
            name: INSTALLER_VARIABLE.to_string(),
            value: env::string(env, INSTALLER_VARIABLE).unwrap_or_default(),
            expected: "uv (the default) or pip".to_string(),
        }),
        None if tool::is_vendored(&tool::pip(), app_dir)
            && !tool::is_vendored(&tool::uv(), app_dir) =>
        {
            Ok((Installer::Pip, Reason::VendoredPip))
        }
        None => Ok((Installer::Uv, Reason::Default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_by_default_pip_on_request_anything_else_is_an_error() {
        let app = tempfile::tempdir().expect("tempdir");
        let mut env = Env::new();
        assert_eq!(
            select(&env, app.path()),
            Ok((Installer::Uv, Reason::Default))
        );
        env.insert(INSTALLER_VARIABLE, "PIP");
        assert_eq!(
            select(&env, app.path()),
            Ok((Installer::Pip, Reason::Variable))
        );
        env.insert(INSTALLER_VARIABLE, "poetry");
        let error = select(&env, app.path()).expect_err("unknown installer");
        assert_eq!(error.value, "poetry");
        assert_eq!(error.expected, "uv (the default) or pip");
    }

    #[test]
    fn a_vendor_directory_with_only_pips_wheel_keeps_pip() {
        let app = tempfile::tempdir().expect("tempdir");
        let vendor = app.path().join(tool::VENDOR_DIR);
        fs_err::create_dir(&vendor).expect("mkdir");
        // Not pip's pinned wheel (wrong hash): ignored.
        fs_err::write(vendor.join("pip-26.3-py3-none-any.whl"), b"not pip").expect("write");
        assert_eq!(
            select(&Env::new(), app.path()),
            Ok((Installer::Uv, Reason::Default))
        );
    }
}
