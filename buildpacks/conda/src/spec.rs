//! What the app asks for, from its files:
//!
//! - `conda-lock.yml` (conda-lock's format, version 1): installed exactly, conda and pip
//!   packages, every archive checked against its hash.
//! - `package-list.txt` (`conda list --explicit [--md5]`): installed exactly, checked against
//!   the `#md5`/`#sha256` of each line.
//! - `environment.yml` / `environment.yaml`: solved; its `pip:` section installed after, and
//!   with a lock above only the `pip:` section and `variables:` are read from it.

use rattler_conda_types::{
    EnvironmentYaml, ExplicitEnvironmentSpec, MatchSpec, PackageArchiveHash,
};
use rattler_digest::{Md5Hash, Sha256Hash};
use std::path::Path;
use url::Url;

pub(crate) const ENVIRONMENT_FILES: [&str; 2] = ["environment.yml", "environment.yaml"];
pub(crate) const PACKAGE_LIST: &str = "package-list.txt";
pub(crate) const CONDA_LOCK: &str = "conda-lock.yml";

/// One package archive to install exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) url: Url,
    pub(crate) md5: Option<Md5Hash>,
    pub(crate) sha256: Option<Sha256Hash>,
}

impl Entry {
    /// The archive's file name, e.g. `python-3.13.1-h0_0.conda`.
    pub(crate) fn file_name(&self) -> String {
        self.url
            .path_segments()
            .and_then(Iterator::last)
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Packages {
    /// Solve these specs against the channels.
    Solve {
        specs: Vec<MatchSpec>,
        channels: Vec<String>,
    },
    /// Install exactly these archives.
    Exact(Vec<Entry>),
}

/// The app's request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    /// The file the conda packages come from.
    pub(crate) file: &'static str,
    pub(crate) packages: Packages,
    /// Requirement lines for pip (`pip:` section, or a lock's pip packages with hashes).
    pub(crate) pip: Vec<String>,
    /// The file the pip requirements come from.
    pub(crate) pip_file: &'static str,
    /// `variables:` of environment.yml: set in the image's environment.
    pub(crate) variables: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) enum SpecError {
    Read {
        file: &'static str,
        error: std::io::Error,
    },
    /// Not YAML, or not the expected structure: the parser's message with line and column.
    Yaml { file: &'static str, message: String },
    /// `package-list.txt` has no `@EXPLICIT` line, a bad URL or a bad hash.
    Explicit { file: &'static str, message: String },
    /// A `conda-lock.yml` entry is not usable (which one and why).
    Lock(String),
    /// The environment file asks for nothing.
    Empty(&'static str),
}

/// The parser's message; serde_yaml puts "at line L column C" in it.
pub(crate) fn yaml_error(error: &serde_yaml::Error) -> String {
    let message = error.to_string();
    match error.location() {
        Some(location) if !message.contains("line ") => format!(
            "{message} at line {} column {}",
            location.line(),
            location.column()
        ),
        _ => message,
    }
}

fn read(app_dir: &Path, file: &'static str) -> Result<Option<String>, SpecError> {
    let path = app_dir.join(file);
    if !path.is_file() {
        return Ok(None);
    }
    fs_err::read_to_string(&path)
        .map(Some)
        .map_err(|error| SpecError::Read { file, error })
}

fn environment_file(app_dir: &Path) -> Result<Option<(&'static str, EnvironmentYaml)>, SpecError> {
    for file in ENVIRONMENT_FILES {
        if let Some(text) = read(app_dir, file)? {
            let parsed =
                EnvironmentYaml::from_yaml_str(&text).map_err(|error| SpecError::Yaml {
                    file,
                    message: yaml_error(&error),
                })?;
            return Ok(Some((file, parsed)));
        }
    }
    Ok(None)
}

fn variables(environment: Option<&(&'static str, EnvironmentYaml)>) -> Vec<(String, String)> {
    environment
        .map(|(_, yaml)| {
            yaml.variables
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn pip_section(environment: Option<&(&'static str, EnvironmentYaml)>) -> Vec<String> {
    environment
        .and_then(|(_, yaml)| yaml.pip_specs())
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// Reads the app's request; `None` when it has none of the files.
pub(crate) fn read_request(app_dir: &Path) -> Result<Option<Request>, SpecError> {
    let environment = environment_file(app_dir)?;
    let environment_name = environment
        .as_ref()
        .map_or("environment.yml", |(file, _)| *file);
    if let Some(text) = read(app_dir, CONDA_LOCK)? {
        let (entries, pip) = conda_lock(&text)?;
        return Ok(Some(Request {
            file: CONDA_LOCK,
            packages: Packages::Exact(entries),
            pip,
            pip_file: CONDA_LOCK,
            variables: variables(environment.as_ref()),
        }));
    }
    if let Some(text) = read(app_dir, PACKAGE_LIST)? {
        return Ok(Some(Request {
            file: PACKAGE_LIST,
            packages: Packages::Exact(explicit(&text)?),
            pip: pip_section(environment.as_ref()),
            pip_file: environment_name,
            variables: variables(environment.as_ref()),
        }));
    }
    let Some((file, yaml)) = &environment else {
        return Ok(None);
    };
    let specs: Vec<MatchSpec> = yaml.match_specs().cloned().collect();
    if specs.is_empty() {
        return Err(SpecError::Empty(file));
    }
    Ok(Some(Request {
        file,
        packages: Packages::Solve {
            specs,
            channels: yaml.channels.iter().map(ToString::to_string).collect(),
        },
        pip: pip_section(environment.as_ref()),
        pip_file: file,
        variables: variables(environment.as_ref()),
    }))
}

fn explicit(text: &str) -> Result<Vec<Entry>, SpecError> {
    let error = |message: String| SpecError::Explicit {
        file: PACKAGE_LIST,
        message,
    };
    let spec: ExplicitEnvironmentSpec = text.parse().map_err(
        |parse: rattler_conda_types::ParseExplicitEnvironmentSpecError| {
            error(crate::solve::chain(&parse))
        },
    )?;
    spec.packages
        .into_iter()
        .map(|entry| {
            let hash = entry.package_archive_hash().map_err(|hash| {
                error(format!(
                    "the hash after '#' of {} is not valid ({hash})",
                    entry.url
                ))
            })?;
            let mut url = entry.url.clone();
            url.set_fragment(None);
            Ok(match hash {
                Some(PackageArchiveHash::Md5(md5)) => Entry {
                    url,
                    md5: Some(md5),
                    sha256: None,
                },
                Some(PackageArchiveHash::Sha256(sha256)) => Entry {
                    url,
                    md5: None,
                    sha256: Some(sha256),
                },
                None => Entry {
                    url,
                    md5: None,
                    sha256: None,
                },
            })
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct CondaLock {
    version: u32,
    package: Vec<LockedPackage>,
}

#[derive(serde::Deserialize)]
struct LockedPackage {
    name: String,
    manager: String,
    platform: String,
    url: String,
    #[serde(default)]
    hash: LockedHash,
    #[serde(default)]
    optional: bool,
}

#[derive(Default, serde::Deserialize)]
struct LockedHash {
    md5: Option<String>,
    sha256: Option<String>,
}

/// The linux-64 conda archives and the pip requirements (with hashes) of a conda-lock file.
fn conda_lock(text: &str) -> Result<(Vec<Entry>, Vec<String>), SpecError> {
    let lock: CondaLock = serde_yaml::from_str(text).map_err(|error| SpecError::Yaml {
        file: CONDA_LOCK,
        message: yaml_error(&error),
    })?;
    if lock.version != 1 {
        return Err(SpecError::Lock(format!(
            "it is version {}; this buildpack reads version 1 (conda-lock 1 and 2 write it).",
            lock.version
        )));
    }
    let mut entries = Vec::new();
    let mut pip = Vec::new();
    for package in lock.package.iter().filter(|package| {
        package.platform == crate::install::PLATFORM.as_str() && !package.optional
    }) {
        let url = Url::parse(&package.url).map_err(|error| {
            SpecError::Lock(format!(
                "the url of {} ('{}') is not valid: {error}.",
                package.name, package.url
            ))
        })?;
        let bad_hash = |kind: &str| {
            SpecError::Lock(format!("the {kind} of {} is not valid hex.", package.name))
        };
        match package.manager.as_str() {
            "conda" => entries.push(Entry {
                url,
                md5: match &package.hash.md5 {
                    Some(hex) => Some(
                        rattler_digest::parse_digest_from_hex::<rattler_digest::Md5>(hex)
                            .ok_or_else(|| bad_hash("md5"))?,
                    ),
                    None => None,
                },
                sha256: match &package.hash.sha256 {
                    Some(hex) => Some(
                        rattler_digest::parse_digest_from_hex::<rattler_digest::Sha256>(hex)
                            .ok_or_else(|| bad_hash("sha256"))?,
                    ),
                    None => None,
                },
            }),
            "pip" => pip.push(match &package.hash.sha256 {
                Some(sha256) => format!("{} @ {url} --hash=sha256:{sha256}", package.name),
                None => format!("{} @ {url}", package.name),
            }),
            other => {
                return Err(SpecError::Lock(format!(
                    "{} has the manager '{other}'; known: conda, pip.",
                    package.name
                )));
            }
        }
    }
    if entries.is_empty() {
        return Err(SpecError::Lock(format!(
            "it has no conda package for {}.",
            crate::install::PLATFORM.as_str()
        )));
    }
    Ok((entries, pip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blacklodge_common::testing::app;

    #[test]
    fn environment_yml_is_solved_with_its_pip_section() {
        let dir = app(&[(
            "environment.yml",
            "name: app\nchannels: [conda-forge]\ndependencies:\n  - python=3.13\n  - pip\n  - pip:\n    - six==1.17.0\nvariables:\n  GREETING: hi\n",
        )]);
        let request = read_request(dir.path()).expect("valid").expect("present");
        assert_eq!(request.file, "environment.yml");
        let Packages::Solve { specs, channels } = &request.packages else {
            panic!("solved");
        };
        assert_eq!(
            specs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["python 3.13.*", "pip"]
        );
        assert_eq!(channels, &vec!["conda-forge".to_string()]);
        assert_eq!(request.pip, vec!["six==1.17.0"]);
        assert_eq!(
            request.variables,
            vec![("GREETING".to_string(), "hi".to_string())]
        );
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        let dir = app(&[("environment.yml", "dependencies:\n  - python\n - pip\n")]);
        let Err(SpecError::Yaml { file, message }) = read_request(dir.path()) else {
            panic!("malformed");
        };
        assert_eq!(file, "environment.yml");
        assert!(message.contains("line 3 column 2"), "{message}");
    }

    #[test]
    fn explicit_lists_keep_their_hashes() {
        let dir = app(&[(
            "package-list.txt",
            "# platform: linux-64\n@EXPLICIT\nhttp://h/c/linux-64/a-1-0.conda#0123456789abcdef0123456789abcdef\nhttp://h/c/noarch/b-2-0.tar.bz2\n",
        )]);
        let request = read_request(dir.path()).expect("valid").expect("present");
        let Packages::Exact(entries) = request.packages else {
            panic!("exact");
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].file_name(), "a-1-0.conda");
        assert_eq!(entries[0].url.fragment(), None);
        assert!(entries[0].md5.is_some());
        assert!(entries[1].md5.is_none());
        let missing = app(&[("package-list.txt", "http://h/c/noarch/b-2-0.tar.bz2\n")]);
        assert!(matches!(
            read_request(missing.path()),
            Err(SpecError::Explicit { .. })
        ));
    }

    #[test]
    fn conda_lock_gives_conda_and_pip_packages_of_this_platform() {
        let lock = "version: 1\nmetadata: {}\npackage:\n- name: python\n  version: '3.13'\n  manager: conda\n  platform: linux-64\n  dependencies: {}\n  url: http://h/c/linux-64/python-3.13-0.conda\n  hash: {md5: 0123456789abcdef0123456789abcdef}\n  category: main\n  optional: false\n- name: python\n  version: '3.13'\n  manager: conda\n  platform: osx-arm64\n  dependencies: {}\n  url: http://h/c/osx-arm64/python-3.13-0.conda\n  hash: {md5: 0123456789abcdef0123456789abcdef}\n  category: main\n  optional: false\n- name: six\n  version: 1.17.0\n  manager: pip\n  platform: linux-64\n  dependencies: {}\n  url: https://files.example/six-1.17.0-py2.py3-none-any.whl\n  hash: {sha256: abc}\n  category: main\n  optional: false\n";
        let dir = app(&[("conda-lock.yml", lock)]);
        let request = read_request(dir.path()).expect("valid").expect("present");
        let Packages::Exact(entries) = request.packages else {
            panic!("exact");
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(
            request.pip,
            vec!["six @ https://files.example/six-1.17.0-py2.py3-none-any.whl --hash=sha256:abc"]
        );
    }

    #[test]
    fn nothing_to_install_is_an_error() {
        let dir = app(&[("environment.yml", "name: app\ndependencies: []\n")]);
        assert!(matches!(
            read_request(dir.path()),
            Err(SpecError::Empty("environment.yml"))
        ));
        assert!(
            read_request(tempfile::tempdir().expect("tempdir").path())
                .expect("valid")
                .is_none()
        );
    }
}
