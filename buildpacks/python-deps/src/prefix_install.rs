//! Installing what an app lacks into a layer of its own, next to the app's environment: the
//! wrapper's harness dependencies, the web buildpack's server.
//!
//! ```text
//! <layer>/
//!   bin/<command>           the layer's command (a launcher script, see write_command)
//!   deps/…/site-packages    what pip installed (the layout follows the interpreter's scheme)
//! ```
//!
//! One job: run pip with `--prefix <layer>/deps`, so distributions already in the app's
//! environment count as satisfied and are never replaced, with a constraints file that pins
//! every installed distribution (a version the buildpack cannot use is a resolution error, not
//! a silent upgrade) followed by the lock's entries for what the app lacks, and with
//! `--require-hashes`, so every downloaded file is the locked one. Nothing is written to the
//! app's venv, which belongs to the dependency buildpack. Then find what was installed (for
//! `sys.path` and the SBOM) and write the layer's command.
//!
//! The layer itself, cached on its metadata, is made by [`make_layer`]. What to install, the
//! metadata, the texts and the errors stay with each buildpack: [`InstallError`] and
//! [`IoFailure`] carry what they need to say it their way.

use crate::errors::DepsError;
use crate::pinned_lock::Locked;
use crate::python_env::PythonEnv;
use crate::sbom::{self, Distribution};
use crate::tool::PinnedWheel;
use blacklodge_common::command::{self, CommandError};
use blacklodge_common::error::{IoFailure, io_failure};
use blacklodge_common::{cache, output};
use libcnb::Buildpack;
use libcnb::build::BuildContext;
use libcnb::data::layer::LayerName;
use libcnb::data::layer_name;
use libcnb::layer::LayerState;
use libcnb::sbom::Sbom;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The arguments that keep pip to the point in a build: no prompt, no progress bar, no
/// advice about its own version or the scripts' directory.
pub const PIP_QUIET: [&str; 5] = [
    "--no-input",
    "--progress-bar",
    "off",
    "--disable-pip-version-check",
    "--no-warn-script-location",
];

/// 1980-01-01 (see the pip buildpack): with `SOURCE_DATE_EPOCH` set, bytecode is hash-based and
/// the layer reproducible.
pub const SOURCE_DATE_EPOCH: &str = "315532800";

/// Why [`install`] failed.
#[derive(Debug)]
pub enum InstallError {
    Io(IoFailure),
    /// pip could not install (the buildpack explains what it was installing).
    Pip(CommandError),
}

impl From<IoFailure> for InstallError {
    fn from(failure: IoFailure) -> Self {
        Self::Io(failure)
    }
}

/// The pinned pip (`PYTHONPATH` for `python3 -m pip`) and the pip download cache.
pub struct Pip {
    pub site: PathBuf,
    pub cache_dir: PathBuf,
}

/// Installs (or reuses) the pinned pip and the `pip-cache` layer.
///
/// # Errors
/// Fetching or installing pip, or preparing the cache layer.
pub fn pip<B>(
    context: &BuildContext<B>,
    pip: &PinnedWheel,
    index: &str,
) -> libcnb::Result<Pip, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
{
    let site = crate::layers::pip::install(context, pip, index)?;
    let cache_dir =
        crate::layers::download_cache::prepare(context, layer_name!("pip-cache"), "pip cache")?;
    Ok(Pip { site, cache_dir })
}

/// A launch layer of what the app lacks, cached on its metadata (see [`make_layer`]).
pub struct Layer<'a, M> {
    pub name: LayerName,
    /// What the log calls it when a cached one is discarded.
    pub label: &'a str,
    /// The metadata the layer is cached on.
    pub wanted: M,
    /// Why a cached layer with other metadata cannot serve (empty when it can).
    pub reasons: fn(&M, &M) -> cache::Reasons,
    /// The log line when the cached layer is kept.
    pub reused: String,
    /// The pinned pip and the index it installs from.
    pub pip: &'a PinnedWheel,
    pub index: &'a str,
}

/// Makes `layer` (launch, cached) and returns its directory. A cached one whose metadata
/// matches is kept; otherwise the reasons are logged, the pinned pip is installed (with its
/// cache) and `fill` installs into the empty layer and writes its command. The layer's SBOM
/// (`sbom`) is written either way, so that it matches a kept layer too.
///
/// # Errors
/// The layer's and pip's, and those of `fill` and `sbom`.
pub fn make_layer<B, M>(
    context: &BuildContext<B>,
    layer: Layer<'_, M>,
    fill: impl FnOnce(&Path, &Pip) -> Result<(), B::Error>,
    sbom: impl Fn(&Path) -> Result<Sbom, B::Error>,
) -> libcnb::Result<PathBuf, B::Error>
where
    B: Buildpack,
    B::Error: From<DepsError>,
    M: Serialize + DeserializeOwned,
{
    let made = cache::cached_layer(
        context,
        layer.name,
        false,
        true,
        &layer.wanted,
        layer.reasons,
    )?;
    let root = made.path();
    let sbom = || sbom(&root).map_err(libcnb::Error::BuildpackError);
    match made.state {
        LayerState::Restored { .. } => {
            output::detail(layer.reused);
            made.write_sboms(&[sbom()?])?;
        }
        LayerState::Empty { .. } => {
            cache::log_if_discarded(layer.label, &made.state);
            let pip = pip(context, layer.pip, layer.index)?;
            fill(&root, &pip).map_err(libcnb::Error::BuildpackError)?;
            made.write_sboms(&[sbom()?])?;
            made.write_metadata(layer.wanted)?;
        }
    }
    Ok(root)
}

/// The constraints file: `app_header`, the app's installed distributions, then
/// `locked_header` and the locked entries it lacks. Each header is comment lines ending in a
/// newline.
#[must_use]
pub fn constraints(
    app_header: &str,
    python: &PythonEnv,
    locked_header: &str,
    locked: &[Locked],
) -> String {
    let mut text = String::from(app_header);
    for pin in &python.distributions {
        text.push_str(pin);
        text.push('\n');
    }
    text.push_str(locked_header);
    for entry in locked {
        text.push_str(&entry.requirement);
        text.push('\n');
    }
    text
}

/// One pip run into a layer.
pub struct Install<'a> {
    /// The layer directory: pip installs below `deps/`.
    pub layer: &'a Path,
    /// The text of the constraints file ([`constraints`]).
    pub constraints: &'a str,
    /// The constraints file's name, in the temporary directory (outside the app).
    pub constraints_file: &'a str,
    /// Printed as the heading of pip's streamed output.
    pub heading: String,
    /// What pip installs: requirements, and options such as `--index-url`.
    pub args: &'a [String],
    pub pip: &'a Pip,
}

/// Writes the constraints, runs pip (hash-checked, with `--prefix`), and removes the console
/// scripts pip wrote: they would run without the app's environment on `sys.path`; the
/// layer's command is the buildpack's launcher.
///
/// # Errors
/// [`InstallError::Pip`] when pip fails; [`InstallError::Io`] for the files.
pub fn install(install: &Install<'_>) -> Result<(), InstallError> {
    let constraints = std::env::temp_dir().join(install.constraints_file);
    fs_err::write(&constraints, install.constraints).map_err(io_failure("write", &constraints))?;
    output::stream_heading(&install.heading);
    let start = std::time::Instant::now();
    command::run_streamed(
        Command::new("python3")
            .args(["-m", "pip", "install", "--prefix"])
            .arg(install.layer.join("deps"))
            .arg("--constraint")
            .arg(&constraints)
            // Every downloaded file must match a hash of the lock; a distribution outside the
            // lock cannot be installed.
            .arg("--require-hashes")
            // Compiled below, unchecked-hash like every environment (crate::bytecode).
            .arg("--no-compile")
            .args(install.args)
            .args(PIP_QUIET)
            .current_dir(install.layer)
            .env("PYTHONPATH", &install.pip.site)
            .env("PIP_CACHE_DIR", &install.pip.cache_dir)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH),
    )
    .map_err(InstallError::Pip)?;
    let deps = install.layer.join("deps");
    if crate::bytecode::compile_with(Path::new("python3"), &deps).is_err() {
        crate::bytecode::note_not_compiled();
    }
    output::detail(format!(
        "Done in {}",
        output::format_duration(start.elapsed())
    ));
    let scripts = install.layer.join("deps/bin");
    if scripts.exists() {
        fs_err::remove_dir_all(&scripts).map_err(io_failure("remove", &scripts))?;
    }
    Ok(())
}

/// The `site-packages` / `dist-packages` directories pip created below the layer's `deps/`
/// (what the layer's command adds to `sys.path`), sorted; none before the install.
///
/// # Errors
/// Reading the directories.
pub fn dependency_dirs(layer: &Path) -> Result<Vec<PathBuf>, IoFailure> {
    let deps = layer.join("deps");
    site_directories(&deps).map_err(io_failure("read", &deps))
}

fn site_directories(deps: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if depth == 0 || !dir.is_dir() {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == "site-packages" || name == "dist-packages" {
                found.push(path);
            } else {
                walk(&path, depth - 1, found)?;
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(deps, 5, &mut found)?;
    Ok(found)
}

/// The distributions installed in the layer's `deps/`, for its SBOM.
///
/// # Errors
/// Reading the directories or a distribution's metadata.
pub fn distributions(layer: &Path) -> Result<Vec<Distribution>, IoFailure> {
    let sites = dependency_dirs(layer)?;
    sbom::distributions_in(&sites).map_err(io_failure("read", &layer.join("deps")))
}

/// A path as a Python string literal (a JSON string literal is a valid Python one).
#[must_use]
pub fn python_string(path: &Path) -> String {
    serde_json::Value::String(path.to_string_lossy().into_owned()).to_string()
}

/// `[…]`: the paths as a Python list literal.
#[must_use]
pub fn python_list(paths: &[PathBuf]) -> String {
    let items = paths
        .iter()
        .map(|path| python_string(path))
        .collect::<Vec<_>>()
        .join(", ");
    format!("[{items}]")
}

/// Writes the layer's command `program` (creating its directory), executable.
///
/// # Errors
/// Creating, writing or making it executable.
pub fn write_command(program: &Path, script: &str) -> Result<(), IoFailure> {
    if let Some(bin) = program.parent() {
        fs_err::create_dir_all(bin).map_err(io_failure("create", bin))?;
    }
    fs_err::write(program, script).map_err(io_failure("write", program))?;
    fs_err::set_permissions(program, std::fs::Permissions::from_mode(0o755))
        .map_err(io_failure("make executable", program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_pin_the_apps_packages_then_the_locked_rest() {
        let python = crate::python_env::described(&["flask==2.2.5", "numpy==2.1.0"]);
        let locked = crate::pinned_lock::parse("gunicorn==27.0.1 \\\n    --hash=sha256:bb\n");
        assert_eq!(
            constraints("# the app's\n", &python, "# locked\n", &locked),
            "# the app's\nflask==2.2.5\nnumpy==2.1.0\n# locked\ngunicorn==27.0.1 \\\n    --hash=sha256:bb\n"
        );
    }

    #[test]
    fn finds_site_directories_in_any_scheme() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deps = dir.path().join("deps");
        fs_err::create_dir_all(deps.join("lib/python3.11/site-packages/flask")).expect("mkdir");
        fs_err::create_dir_all(deps.join("local/lib/python3.11/dist-packages")).expect("mkdir");
        assert_eq!(
            dependency_dirs(dir.path()).expect("walk"),
            vec![
                deps.join("lib/python3.11/site-packages"),
                deps.join("local/lib/python3.11/dist-packages"),
            ]
        );
        assert!(
            dependency_dirs(&dir.path().join("missing"))
                .expect("walk")
                .is_empty()
        );
    }

    #[test]
    fn the_command_is_an_executable_file_in_its_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let program = dir.path().join("bin/server");
        write_command(&program, "#!/usr/bin/env python3\n").expect("write");
        let mode = fs_err::metadata(&program)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            python_list(&[PathBuf::from("/a \"b\""), PathBuf::from("/c")]),
            "[\"/a \\\"b\\\"\", \"/c\"]"
        );
    }
}
