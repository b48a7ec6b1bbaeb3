//! The detection and build of a buildpack whose lock is translated into hashed requirements
//! (Poetry, Pipenv): the flow both follow, with [`TranslatedLock`] for what is each one's own
//! (its files, how its lock is checked and what of it is selected, its errors).
//!
//! The build: the header, the manager selection, the manifest and the lock present, then
//! [`prepare`] (the same code detection computes the venv key with), the log lines on the
//! lock and the selection, and the venv synced with uv ([`translated::install_venv`]).

use crate::errors::{DepsError, fail};
use crate::layers::venv::VenvKey;
use crate::locked::{Indexes, LockedPackage};
use crate::managers::Manager;
use crate::translated::{self, Install, NetrcEntry, TranslatedError};
use crate::{setup, tool};
use blacklodge_common::download::sha256_bytes;
use blacklodge_common::output;
use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::detect::{DetectContext, DetectResult};
use libcnb::{Buildpack, Env, Platform};
use std::path::{Path, PathBuf};

/// What a buildpack of a translated lock has of its own. Its error holds the shared ones:
/// a [`DepsError`], a [`TranslatedError`], a [`Missing`] file.
pub trait TranslatedLock:
    Buildpack<Error: From<DepsError> + From<TranslatedError> + From<Missing>>
{
    /// The manager (its name heads the build log).
    const MANAGER: Manager;
    /// The file the lock is checked against (`Pipfile`, `pyproject.toml`).
    const MANIFEST: &'static str;
    /// The lock (`Pipfile.lock`, `poetry.lock`).
    const LOCK: &'static str;
    /// What detection prints when it does not pass.
    const WHY_NOT: &'static str;

    /// Checks `lock` (the lock's text) against `manifest` (the manifest's text) and selects
    /// what to install for the build's variables `env`, without running anything.
    ///
    /// # Errors
    /// An invalid manifest or lock, a lock out of date, a selection the lock does not have.
    fn select(env: &Env, manifest: &str, lock: &str) -> Result<Selected, Self::Error>;
}

/// Which of the two files is missing (the buildpack's own message says what to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Manifest,
    Lock,
}

/// What a lock selects for the build: the packages and where they come from, what the venv
/// key records of the selection, and what the log says.
#[derive(Debug)]
pub struct Selected {
    pub packages: Vec<LockedPackage>,
    /// Local packages installed editable after the sync (relative to the app).
    pub editables: Vec<PathBuf>,
    pub indexes: Indexes,
    pub netrc: Vec<NetrcEntry>,
    /// The venv key's account of the selection (`categories: …`, `groups: …`).
    pub selection: String,
    /// The build log's lines on the lock and what it installs.
    pub details: Vec<String>,
}

/// What the install needs and the venv key, from the app's files and the build's variables
/// without running anything: the same code at detection (the key's digest tells the python
/// buildpack when Python runs: `VenvKey`) and at build.
#[derive(Debug)]
pub struct Prepared {
    /// The build log's lines before the install (the lock's, then the note on the packages
    /// without a file hash, if any).
    pub details: Vec<String>,
    pub install: Install,
    /// The lock's label in the cache decisions ("… changed", "… unchanged").
    pub lock_label: String,
    pub key: VenvKey,
}

fn read(app_dir: &Path, file: &str) -> Result<String, TranslatedError> {
    let path = app_dir.join(file);
    fs_err::read_to_string(&path).map_err(|error| TranslatedError::Io { path, error })
}

/// Reads the manifest and the lock of `B` in `app_dir` and plans their install.
///
/// # Errors
/// Those of [`TranslatedLock::select`], a local path dependency missing or unreadable, an
/// invalid `UV_NO_INDEX`.
pub fn prepare<B>(app_dir: &Path, env: &Env) -> Result<Prepared, B::Error>
where
    B: TranslatedLock,
{
    let manifest = read(app_dir, B::MANIFEST)?;
    let lock = read(app_dir, B::LOCK)?;
    let Selected {
        packages,
        editables,
        indexes,
        netrc,
        selection,
        mut details,
    } = B::select(env, &manifest, &lock)?;
    let (mut install, local_fingerprint) =
        translated::plan(app_dir, &packages, editables, &indexes, netrc)?;
    install.no_index = translated::no_index(env).map_err(DepsError::from)?;
    details.extend(translated::unhashed_note(&packages));
    let key = VenvKey {
        lock_sha256: sha256_bytes(
            translated::key_material(&[&manifest, &lock], &local_fingerprint).as_bytes(),
        ),
        installer: tool::uv().label(),
        selection,
    };
    Ok(Prepared {
        details,
        install,
        lock_label: if local_fingerprint.is_empty() {
            B::LOCK.to_string()
        } else {
            format!("{} (+ local packages)", B::LOCK)
        },
        key,
    })
}

/// The detection of `B`: see [`setup::detect_lock`].
///
/// # Errors
/// libcnb errors building the result.
pub fn detect<B>(context: &DetectContext<B>) -> libcnb::Result<DetectResult, B::Error>
where
    B: TranslatedLock,
{
    setup::detect_lock(context, B::MANAGER, B::WHY_NOT, |app, env| {
        prepare::<B>(app, env).map(|prepared| prepared.key)
    })
}

/// The build of `B`.
///
/// # Errors
/// A manager conflict, a missing manifest or lock, those of [`prepare`] and of the install.
pub fn build<B>(context: &BuildContext<B>) -> libcnb::Result<BuildResult, B::Error>
where
    B: TranslatedLock,
{
    output::header(format!("Blacklodge {}", B::MANAGER.name()));
    let env = context.platform.env();
    let app_dir = &context.app_dir;
    setup::check_selection(app_dir, env).map_err(fail::<B::Error>)?;
    for (file, missing) in [(B::MANIFEST, Missing::Manifest), (B::LOCK, Missing::Lock)] {
        if !app_dir.join(file).is_file() {
            return Err(libcnb::Error::BuildpackError(B::Error::from(missing)));
        }
    }
    output::step(format!("Installing dependencies from {}", B::LOCK));
    let Prepared {
        details,
        install,
        lock_label,
        key,
    } = prepare::<B>(app_dir, env).map_err(libcnb::Error::BuildpackError)?;
    for line in details {
        output::detail(line);
    }
    translated::install_venv(context, key, &lock_label, &install)?;
    BuildResultBuilder::new().build()
}

/// The conversions a [`TranslatedLock`] buildpack's error needs (see
/// `blacklodge_common::buildpack_error`): from its variants `Deps(DepsError)`,
/// `Translated(TranslatedError)` and `Missing(Missing)`, e.g.
/// `translated_lock_error!(PoetryError)`.
#[macro_export]
macro_rules! translated_lock_error {
    ($error:ty) => {
        blacklodge_common::buildpack_error!(
            $error,
            Deps($crate::errors::DepsError),
            Translated($crate::translated::TranslatedError),
            Missing($crate::lock_buildpack::Missing),
        );
    };
}

/// Helpers for the unit tests of the [`TranslatedLock`] buildpacks: the `testing` feature,
/// enabled by their dev-dependencies only.
#[cfg(feature = "testing")]
pub mod testing {
    use super::{TranslatedLock, prepare};
    use blacklodge_common::testing;
    use libcnb::Env;
    use std::path::Path;

    /// The digest of the venv key [`prepare`] computes for `B` from the app `app_dir` and the
    /// variables `env`.
    ///
    /// # Panics
    /// When the app cannot be prepared.
    #[must_use]
    pub fn key<B>(app_dir: &Path, env: &Env) -> String
    where
        B: TranslatedLock,
    {
        match prepare::<B>(app_dir, env) {
            Ok(prepared) => prepared.key.digest(),
            Err(error) => panic!("{error:?}"),
        }
    }

    /// Asserts that the venv key of the app `app_dir` changes when its manifest and lock are
    /// replaced by those of the fixture `changed-locks/<manager>` (the same app after a
    /// real relock).
    ///
    /// # Panics
    /// When the key stays, or a file cannot be copied.
    pub fn assert_relock_changes_key<B>(app_dir: &Path)
    where
        B: TranslatedLock,
    {
        let before = key::<B>(app_dir, &Env::new());
        let changed = testing::fixture_app(&format!("changed-locks/{}", B::MANAGER.id()));
        for file in [B::MANIFEST, B::LOCK] {
            fs_err::copy(changed.path().join(file), app_dir.join(file)).expect("copy");
        }
        assert_ne!(key::<B>(app_dir, &Env::new()), before, "relocked");
    }

    /// Asserts, for the fixture `fixture` (a local directory dependency in `libs/localpkg`
    /// and an editable one in `libs/devpkg`), that the directory's files are inputs of the
    /// venv key and the editable one's are not (read from the app at run time).
    ///
    /// # Panics
    /// When one of these does not hold.
    pub fn assert_local_directories_are_inputs<B>(fixture: &str)
    where
        B: TranslatedLock,
    {
        let app = testing::fixture_app(fixture);
        testing::assert_key_follows_inputs(
            app.path(),
            |env| key::<B>(app.path(), env),
            &[("libs/localpkg/localpkg/__init__.py", "VALUE = 2\n")],
            &[],
            &[("libs/devpkg/devpkg/__init__.py", "VALUE = 2\n")],
        );
    }
}

/// The `Buildpack` implementation of a [`TranslatedLock`] buildpack (generic platform and
/// metadata, [`detect`] and [`build`], errors reported to the user) and its `main`, e.g.
/// `translated_lock_buildpack!(PoetryBuildpack, PoetryError)`.
#[macro_export]
macro_rules! translated_lock_buildpack {
    ($buildpack:ident, $error:ty) => {
        impl libcnb::Buildpack for $buildpack {
            type Platform = libcnb::generic::GenericPlatform;
            type Metadata = libcnb::generic::GenericMetadata;
            type Error = $error;

            fn detect(
                &self,
                context: libcnb::detect::DetectContext<Self>,
            ) -> libcnb::Result<libcnb::detect::DetectResult, Self::Error> {
                $crate::lock_buildpack::detect(&context)
            }

            fn build(
                &self,
                context: libcnb::build::BuildContext<Self>,
            ) -> libcnb::Result<libcnb::build::BuildResult, Self::Error> {
                $crate::lock_buildpack::build(&context)
            }

            fn on_error(&self, error: libcnb::Error<Self::Error>) {
                blacklodge_common::error::report(&error);
            }
        }

        libcnb::buildpack_main!($buildpack);
    };
}
