//! Installing a lock translated into hashed requirements (Poetry, Pipenv) with uv:
//! `uv pip sync --require-hashes` makes the venv exactly the locked set (extraneous packages
//! removed, so a cached venv is updated in place), then local editable packages (the root
//! project) are installed without dependencies. A set with git or local directory packages
//! is synced with `--verify-hashes` instead (see [`crate::locked`] for why that keeps every
//! hash of the lock checked).
//!
//! The requirements file and any netrc carry index URLs and credentials: both are written to
//! the build's temporary directory, readable by the build user only, and removed afterwards —
//! never into a layer.

use crate::errors::{self, DepsError};
use crate::layers::venv::VenvKey;
use crate::local_sources;
use crate::locked::{self, Indexes, LockedPackage, Origin};
use crate::uv::Uv;
use blacklodge_common::command::{self, CommandError};
use blacklodge_common::env::{self, InvalidVariable};
use blacklodge_common::error::UserError;
use blacklodge_common::output;
use libcnb::build::BuildContext;
use libcnb::{Buildpack, Platform};
use std::path::{Path, PathBuf};

/// How uv checks the hashes of the requirements file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashChecking {
    /// Every line must carry hashes (`--require-hashes`).
    #[default]
    Require,
    /// Every hash given is checked; lines without one (git, directories) are allowed
    /// (`--verify-hashes`).
    Verify,
}

impl HashChecking {
    fn flag(self) -> &'static str {
        match self {
            Self::Require => "--require-hashes",
            Self::Verify => "--verify-hashes",
        }
    }
}

/// What to install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Install {
    /// The hashed requirements (see [`crate::locked::requirements`]).
    pub requirements: String,
    pub hash_checking: HashChecking,
    /// Packages built from local directories: rebuilt whenever uv runs, since their source
    /// can change without the lock changing (and pack gives every file the same mtime, which
    /// uv's own freshness check relies on).
    pub rebuild: Vec<String>,
    /// Local packages installed editable after the sync (relative to the app).
    pub editables: Vec<PathBuf>,
    /// The local source trees uv builds (directories and editables, relative to the app): the
    /// build output their backend leaves in them is removed after the install.
    pub source_dirs: Vec<PathBuf>,
    /// `machine login password` entries for the indexes that need credentials.
    pub netrc: Vec<NetrcEntry>,
    /// No package index at all (`UV_NO_INDEX`): only `UV_FIND_LINKS` and direct references.
    pub no_index: bool,
}

/// uv's own variable for installing without any package index (only the `UV_FIND_LINKS`
/// locations and direct references), as offline builds with vendored wheels need.
pub const NO_INDEX_VARIABLE: &str = "UV_NO_INDEX";

/// Whether `UV_NO_INDEX` is set to true. The build passes it on as `--no-index`: the pinned
/// uv does not read that variable, and its `uv pip` commands would otherwise query the index
/// the requirements file names (the lock's sources) before the find-links locations.
///
/// # Errors
/// [`InvalidVariable`] for a value that is not a boolean.
pub fn no_index(env: &libcnb::Env) -> Result<bool, InvalidVariable> {
    Ok(env::boolean(env, NO_INDEX_VARIABLE)?.unwrap_or(false))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetrcEntry {
    pub host: String,
    pub login: String,
    pub password: String,
}

/// What stops a translated lock from being installed: the failures the Poetry and Pipenv
/// buildpacks share (each names its own lock in the message: [`TranslatedError::user_error`]).
#[derive(Debug)]
pub enum TranslatedError {
    /// A local path dependency (`package`, or an editable path) that is not in the app.
    LocalPathMissing { package: String, path: PathBuf },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The installer failed.
    Install(CommandError),
}

impl TranslatedError {
    /// The message for the lock `lock_file`, which `relock` regenerates; `remove` is the
    /// other way out of a missing path dependency (after "Commit the path with the app, or").
    #[must_use]
    pub fn user_error(&self, lock_file: &str, relock: &str, remove: &str) -> UserError {
        match self {
            Self::LocalPathMissing { package, path } => {
                errors::local_path_missing(lock_file, package, path, remove)
            }
            Self::Io { path, error } => errors::unreadable(path, error),
            Self::Install(error) => errors::lock_install_failure(error, lock_file, relock),
        }
    }
}

/// What to install for a translated lock, and the fingerprint of its local source
/// directories (empty without any) for the venv's cache key. Reads only the app (no log, no
/// process): detection computes the venv key with it too.
///
/// # Errors
/// A local path dependency missing from the app, or one that cannot be read.
pub fn plan(
    app_dir: &Path,
    packages: &[LockedPackage],
    editables: Vec<PathBuf>,
    indexes: &Indexes,
    netrc: Vec<NetrcEntry>,
) -> Result<(Install, String), TranslatedError> {
    let local_paths = packages
        .iter()
        .filter_map(locked::local_path)
        .chain(editables.iter().map(PathBuf::as_path));
    if let Some(path) = local_sources::first_missing(app_dir, local_paths) {
        let package = packages
            .iter()
            .find(|package| locked::local_path(package) == Some(path))
            .map_or_else(
                || path.display().to_string(),
                |package| package.name.clone(),
            );
        return Err(TranslatedError::LocalPathMissing {
            package,
            path: path.to_path_buf(),
        });
    }
    let unhashed = locked::unhashed(packages);
    let directories: Vec<&Path> = packages
        .iter()
        .filter_map(|package| match &package.origin {
            Origin::Directory(path) => Some(path.as_path()),
            _ => None,
        })
        .collect();
    let fingerprint = if directories.is_empty() {
        String::new()
    } else {
        local_sources::fingerprint(app_dir, &directories).map_err(|error| TranslatedError::Io {
            path: app_dir.to_path_buf(),
            error,
        })?
    };
    let source_dirs = directories
        .iter()
        .map(|path| path.to_path_buf())
        .chain(editables.iter().cloned())
        .collect();
    let install = Install {
        requirements: locked::requirements(packages, indexes, app_dir),
        hash_checking: if unhashed.is_empty() {
            HashChecking::Require
        } else {
            HashChecking::Verify
        },
        rebuild: packages
            .iter()
            .filter(|package| matches!(package.origin, Origin::Directory(_)))
            .map(|package| package.name.clone())
            .collect(),
        editables,
        source_dirs,
        netrc,
        no_index: false,
    };
    Ok((install, fingerprint))
}

/// Gets uv and makes the venv layer of `key` and the build's Python, synced to `install`
/// unless it is current (see [`crate::layers::venv::install`]).
///
/// # Errors
/// Getting uv, the layer, and the install.
pub fn install_venv<B>(
    context: &BuildContext<B>,
    key: VenvKey,
    lock_label: &str,
    install: &Install,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError> + From<TranslatedError>,
{
    let uv = crate::setup::uv(
        context,
        &crate::setup::tool_index(context.platform.env(), None),
    )?;
    let wanted = key.with_python(uv.python.version.clone());
    crate::layers::venv::install(context, &wanted, lock_label, &uv, |venv, _| {
        sync(&uv, &context.app_dir, venv, install)
            .map_err(|failure| libcnb::Error::BuildpackError(B::Error::from(failure)))
    })
}

/// The note for the build log on the packages the lock records no file hash for, if any.
#[must_use]
pub fn unhashed_note(packages: &[LockedPackage]) -> Option<String> {
    let unhashed = locked::unhashed(packages);
    (!unhashed.is_empty()).then(|| {
        format!(
            "Without a file hash in the lock (pinned by commit or part of the app): {}",
            unhashed
                .iter()
                .map(|package| format!("{} ({})", package.name, package.describe_origin()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The venv cache key material: the lock (and the files it was checked against), plus the
/// local source directories' fingerprint when there are any (without, the key stays what it
/// was before local directories were supported, so existing caches stay valid).
#[must_use]
pub fn key_material(lock_files: &[&str], local_fingerprint: &str) -> String {
    let mut material = lock_files.join("\0");
    if !local_fingerprint.is_empty() {
        material.push('\0');
        material.push_str(local_fingerprint);
    }
    material
}

struct TempFile(PathBuf);

impl TempFile {
    fn create(name: &str, contents: &str) -> Result<Self, TranslatedError> {
        use fs_err::os::unix::fs::OpenOptionsExt;
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("blacklodge-{}-{name}", std::process::id()));
        let io = |error| TranslatedError::Io {
            path: path.clone(),
            error,
        };
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        file.write_all(contents.as_bytes()).map_err(io)?;
        Ok(Self(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.0);
    }
}

fn netrc_text(entries: &[NetrcEntry]) -> String {
    use std::fmt::Write;
    entries.iter().fold(String::new(), |mut out, entry| {
        let _ = writeln!(
            out,
            "machine {} login {} password {}",
            entry.host, entry.login, entry.password
        );
        out
    })
}

/// Syncs `venv` to `install` with uv.
///
/// # Errors
/// Writing the temporary files, or uv failing.
pub fn sync(
    uv: &Uv,
    app_dir: &Path,
    venv: &Path,
    install: &Install,
) -> Result<(), TranslatedError> {
    let build_output = local_sources::BuildOutput::snapshot(
        app_dir,
        install.source_dirs.iter().map(PathBuf::as_path),
    );
    let requirements = TempFile::create("requirements.txt", &install.requirements)?;
    let netrc = if install.netrc.is_empty() {
        None
    } else {
        Some(TempFile::create("netrc", &netrc_text(&install.netrc))?)
    };
    let python = venv.join("bin/python");
    let flag = install.hash_checking.flag();
    if install.no_index {
        output::detail(format!(
            "No package index ({NO_INDEX_VARIABLE}): the locked files come from the find-links locations (UV_FIND_LINKS) and the lock's direct references"
        ));
    }
    output::stream_heading(match install.hash_checking {
        HashChecking::Require => format!("Running uv pip sync {flag} (the locked set, exactly)"),
        HashChecking::Verify => format!(
            "Running uv pip sync {flag} (the locked set, exactly; every hash the lock records is checked)"
        ),
    });
    let mut sync = uv.command(app_dir);
    sync.args(["pip", "sync", flag]);
    if install.no_index {
        sync.arg("--no-index");
    }
    for package in &install.rebuild {
        sync.args(["--reinstall-package", package, "--refresh-package", package]);
    }
    sync.arg("--python").arg(&python).arg(&requirements.0);
    if let Some(netrc) = &netrc {
        sync.env("NETRC", &netrc.0);
    }
    command::run_streamed(&mut sync).map_err(TranslatedError::Install)?;
    for editable in &install.editables {
        output::stream_heading(format!(
            "Installing {} (editable, without dependencies)",
            editable.display()
        ));
        let mut local = uv.command(app_dir);
        local.args(["pip", "install", "--no-deps"]);
        if install.no_index {
            local.arg("--no-index");
        }
        local
            .arg("--python")
            .arg(&python)
            .arg("--editable")
            .arg(editable);
        if let Some(netrc) = &netrc {
            local.env("NETRC", &netrc.0);
        }
        command::run_streamed(&mut local).map_err(TranslatedError::Install)?;
    }
    build_output
        .remove_new()
        .map(|_| ())
        .map_err(|(path, error)| TranslatedError::Io { path, error })
}

/// The host (and port) of an index URL, for netrc.
#[must_use]
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    // netrc matches on the host name only.
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_netrc() {
        assert_eq!(
            host_of("http://u:p@127.0.0.1:8080/simple/").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("not a url"), None);
        assert_eq!(
            netrc_text(&[NetrcEntry {
                host: "h".into(),
                login: "l".into(),
                password: "p".into()
            }]),
            "machine h login l password p\n"
        );
    }

    #[test]
    fn no_index_is_a_strict_boolean() {
        let mut env = libcnb::Env::new();
        assert_eq!(no_index(&env), Ok(false));
        env.insert(NO_INDEX_VARIABLE, "1");
        assert_eq!(no_index(&env), Ok(true));
        env.insert(NO_INDEX_VARIABLE, "false");
        assert_eq!(no_index(&env), Ok(false));
        env.insert(NO_INDEX_VARIABLE, "offline");
        assert!(no_index(&env).is_err());
    }

    #[test]
    fn temp_files_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let file = TempFile::create("test", "secret").expect("written");
        let path = file.0.clone();
        let mode = fs_err::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(file);
        assert!(!path.exists());
    }
}
