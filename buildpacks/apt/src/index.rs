//! Packages indices (the archive's and the run image's dpkg status, same format) and the
//! resolution of the requests to the packages to install.

use crate::aptfile::Request;
use crate::version;
use std::collections::{BTreeMap, BTreeSet};

/// One package of a Packages index or a dpkg status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
    /// Depends and Pre-Depends.
    pub(crate) depends: String,
    pub(crate) provides: String,
    /// The path below the mirror (indices only).
    pub(crate) filename: String,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    /// `Status:` of a dpkg status entry (empty in indices).
    pub(crate) status: String,
    /// The index the package is from: `bookworm`, `bookworm-updates`…
    pub(crate) suite: String,
    /// The mirror that serves its `filename`.
    pub(crate) base: String,
}

/// The stanzas of a Packages index or dpkg status file.
pub(crate) fn parse_stanzas(text: &str, suite: &str) -> Vec<Package> {
    let mut packages = Vec::new();
    for stanza in text.split("\n\n") {
        let mut package = Package {
            name: String::new(),
            version: String::new(),
            architecture: String::new(),
            depends: String::new(),
            provides: String::new(),
            filename: String::new(),
            sha256: String::new(),
            size: 0,
            status: String::new(),
            suite: suite.to_string(),
            base: String::new(),
        };
        let mut field: Option<&str> = None;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                // Continuation lines: only the dependency fields are read, and they may wrap.
                if matches!(field, Some("Depends" | "Pre-Depends" | "Provides")) {
                    let target = if field == Some("Provides") {
                        &mut package.provides
                    } else {
                        &mut package.depends
                    };
                    target.push(' ');
                    target.push_str(line.trim());
                }
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            field = Some(key);
            match key {
                "Package" => package.name = value.to_string(),
                "Version" => package.version = value.to_string(),
                "Architecture" => package.architecture = value.to_string(),
                "Depends" | "Pre-Depends" => {
                    if !package.depends.is_empty() {
                        package.depends.push_str(", ");
                    }
                    package.depends.push_str(value);
                }
                "Provides" => package.provides = value.to_string(),
                "Filename" => package.filename = value.to_string(),
                "SHA256" => package.sha256 = value.to_string(),
                "Size" => package.size = value.parse().unwrap_or(0),
                "Status" => package.status = value.to_string(),
                _ => {}
            }
        }
        if !package.name.is_empty() && !package.version.is_empty() {
            packages.push(package);
        }
    }
    packages
}

/// One alternative of a dependency: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) name: String,
    pub(crate) constraint: Option<(String, String)>,
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.constraint {
            Some((operator, version)) => write!(f, "{} ({operator} {version})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

fn parse_relation(text: &str) -> Option<Relation> {
    let text = text.trim();
    let (name, constraint) = match text.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.split(')').next().unwrap_or_default().trim();
            let split = inner
                .find(|c: char| !"<>=".contains(c))
                .unwrap_or(inner.len());
            let (operator, version) = inner.split_at(split);
            (
                name.trim(),
                Some((operator.trim().to_string(), version.trim().to_string())),
            )
        }
        None => (text, None),
    };
    let name = name.split(':').next().unwrap_or_default().trim();
    (!name.is_empty()).then(|| Relation {
        name: name.to_string(),
        constraint,
    })
}

/// `a, b | c (>= 1)` → `[[a], [b, c (>= 1)]]`.
pub(crate) fn parse_relations(text: &str) -> Vec<Vec<Relation>> {
    text.split(',')
        .map(|clause| clause.split('|').filter_map(parse_relation).collect())
        .filter(|alternatives: &Vec<Relation>| !alternatives.is_empty())
        .collect()
}

/// A set of packages by name, with what they provide.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Every version of each package (several suites may have one).
    by_name: BTreeMap<String, Vec<Package>>,
    /// Virtual name → (provider, provided version).
    provided: BTreeMap<String, Vec<(String, Option<String>)>>,
}

impl Catalog {
    pub(crate) fn new(packages: impl IntoIterator<Item = Package>) -> Self {
        let mut catalog = Self::default();
        for package in packages {
            for relation in parse_relations(&package.provides).into_iter().flatten() {
                catalog.provided.entry(relation.name).or_default().push((
                    package.name.clone(),
                    relation.constraint.map(|(_, version)| version),
                ));
            }
            catalog
                .by_name
                .entry(package.name.clone())
                .or_default()
                .push(package);
        }
        catalog
    }

    /// The run image's installed packages (`Status: install ok installed`).
    pub(crate) fn installed(status: &str) -> Self {
        Self::new(
            parse_stanzas(status, "run image")
                .into_iter()
                .filter(|package| package.status.ends_with(" installed")),
        )
    }

    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn versions(&self, name: &str) -> &[Package] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The newest version of `name` that satisfies `relation`'s constraint.
    fn best(&self, relation: &Relation) -> Option<&Package> {
        self.versions(&relation.name)
            .iter()
            .filter(|package| fits(&package.version, relation))
            .max_by(|a, b| version::compare(&a.version, &b.version))
    }

    /// Whether a package here satisfies `relation`, directly or through Provides.
    fn satisfies(&self, relation: &Relation) -> bool {
        self.best(relation).is_some()
            || self.provided.get(&relation.name).is_some_and(|providers| {
                providers
                    .iter()
                    .any(|(_, provided)| match (&relation.constraint, provided) {
                        (None, _) => true,
                        (Some(_), Some(version)) => fits(version, relation),
                        (Some(_), None) => false,
                    })
            })
    }

    /// Package names within a small edit distance (one edit per four characters), or that start
    /// with `name`, nearest first.
    pub(crate) fn close_names(&self, name: &str) -> Vec<String> {
        let mut found: Vec<(usize, &String)> = self
            .by_name
            .keys()
            .filter_map(|candidate| {
                let distance = blacklodge_common::error::edit_distance(name, candidate);
                (distance <= (name.len() / 4).max(1)
                    || (name.len() >= 3 && candidate.starts_with(name)))
                .then_some((distance, candidate))
            })
            .collect();
        found.sort();
        found
            .into_iter()
            .take(5)
            .map(|(_, name)| name.clone())
            .collect()
    }
}

fn fits(version: &str, relation: &Relation) -> bool {
    relation
        .constraint
        .as_ref()
        .is_none_or(|(operator, reference)| version::satisfies(version, operator, reference))
}

/// Why the requests cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// No package (real or virtual) of that name in the release.
    Unknown {
        request: Request,
        suggestions: Vec<String>,
    },
    /// The package exists, not in that version.
    Version {
        request: Request,
        available: Vec<String>,
    },
    /// A dependency no package of the release satisfies.
    Unsatisfiable {
        package: String,
        relation: String,
        chain: Vec<String>,
    },
}

/// The result of a resolution: what to install, and what the run image already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Sorted by name.
    pub(crate) install: Vec<Package>,
    /// Requested packages the run image already has (name and its version).
    pub(crate) already_installed: Vec<(String, String)>,
}

/// Resolves `requests` against `archive`, leaving out every dependency `run_image`
/// satisfies. A requested package the run image has is not installed again unless a
/// version is pinned.
pub(crate) fn resolve(
    requests: &[Request],
    archive: &Catalog,
    run_image: &Catalog,
) -> Result<Resolution, ResolveError> {
    let mut selected: BTreeMap<String, Package> = BTreeMap::new();
    let mut already_installed = Vec::new();
    // (package, chain of names that led to it)
    let mut queue: Vec<(Package, Vec<String>)> = Vec::new();
    for request in requests {
        if request.version.is_none()
            && let Some(installed) = run_image.versions(&request.name).first()
        {
            already_installed.push((request.name.clone(), installed.version.clone()));
            continue;
        }
        let package = pick_requested(request, archive)?;
        queue.push((package, vec![request.name.clone()]));
    }
    while let Some((package, chain)) = queue.pop() {
        if selected.contains_key(&package.name) {
            continue;
        }
        for alternatives in parse_relations(&package.depends) {
            let selected_catalog = |relation: &Relation| {
                selected.values().any(|chosen| {
                    chosen.name == relation.name && fits(&chosen.version, relation)
                        || parse_relations(&chosen.provides)
                            .into_iter()
                            .flatten()
                            .any(|provided| provided.name == relation.name)
                }) || queue.iter().any(|(queued, _)| {
                    queued.name == relation.name && fits(&queued.version, relation)
                })
            };
            if alternatives
                .iter()
                .any(|relation| run_image.satisfies(relation) || selected_catalog(relation))
            {
                continue;
            }
            let choice = alternatives.iter().find_map(|relation| {
                archive.best(relation).cloned().or_else(|| {
                    // A virtual package: its first provider in the archive.
                    archive
                        .provided
                        .get(&relation.name)?
                        .iter()
                        .find_map(|(provider, _)| {
                            archive.best(&Relation {
                                name: provider.clone(),
                                constraint: None,
                            })
                        })
                        .cloned()
                })
            });
            let Some(choice) = choice else {
                return Err(ResolveError::Unsatisfiable {
                    package: package.name.clone(),
                    relation: alternatives
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" | "),
                    chain,
                });
            };
            let mut next = chain.clone();
            next.push(choice.name.clone());
            queue.push((choice, next));
        }
        selected.insert(package.name.clone(), package);
    }
    Ok(Resolution {
        install: selected.into_values().collect(),
        already_installed,
    })
}

fn pick_requested(request: &Request, archive: &Catalog) -> Result<Package, ResolveError> {
    let versions = archive.versions(&request.name);
    if versions.is_empty() {
        // A virtual package (e.g. `libjpeg-dev` in some releases): its provider.
        if request.version.is_none()
            && let Some(package) = archive.provided.get(&request.name).and_then(|providers| {
                providers.iter().find_map(|(provider, _)| {
                    archive
                        .versions(provider)
                        .iter()
                        .max_by(|a, b| version::compare(&a.version, &b.version))
                })
            })
        {
            return Ok(package.clone());
        }
        return Err(ResolveError::Unknown {
            request: request.clone(),
            suggestions: archive.close_names(&request.name),
        });
    }
    let relation = Relation {
        name: request.name.clone(),
        constraint: request.version.clone().map(|v| ("=".to_string(), v)),
    };
    archive.best(&relation).cloned().ok_or_else(|| {
        let available: BTreeSet<&str> = versions.iter().map(|p| p.version.as_str()).collect();
        ResolveError::Version {
            request: request.clone(),
            available: available.into_iter().map(str::to_string).collect(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHIVE: &str = "\
Package: libpq-dev
Version: 15.10-0+deb12u1
Architecture: amd64
Depends: libpq5 (= 15.10-0+deb12u1), libssl-dev
Filename: pool/main/p/postgresql-15/libpq-dev_15.10-0+deb12u1_amd64.deb
Size: 10
SHA256: aa

Package: libpq5
Version: 15.10-0+deb12u1
Architecture: amd64
Pre-Depends: libc6 (>= 2.34)
Depends: libgssapi-krb5-2 (>= 1.17),
 libldap-2.5-0 (>= 2.5.4) | libldap2
Filename: pool/main/p/postgresql-15/libpq5_15.10-0+deb12u1_amd64.deb
Size: 10
SHA256: bb

Package: libpq5
Version: 15.8-0+deb12u1
Architecture: amd64
Filename: pool/main/p/postgresql-15/libpq5_15.8-0+deb12u1_amd64.deb

Package: libssl-dev
Version: 3.0.15-1~deb12u1
Depends: libssl3 (= 3.0.15-1~deb12u1)

Package: libssl3
Version: 3.0.15-1~deb12u1

Package: libgssapi-krb5-2
Version: 1.20.1-2+deb12u2
Depends: libc6 (>= 2.33), libkrb5support0

Package: libkrb5support0
Version: 1.20.1-2+deb12u2

Package: libldap-2.5-0
Version: 2.5.13+dfsg-5
Depends: libsasl2-2 | libsasl2-alt

Package: cyrus-sasl-alt
Version: 1.0
Provides: libsasl2-alt

Package: libc6
Version: 2.36-9+deb12u10
";

    const STATUS: &str = "\
Package: libc6
Status: install ok installed
Version: 2.36-9+deb12u9

Package: libssl3
Status: install ok installed
Version: 3.0.15-1~deb12u1

Package: libkrb5support0
Status: deinstall ok config-files
Version: 1.20.1-2+deb12u2
";

    fn request(name: &str, version: Option<&str>) -> Request {
        Request {
            name: name.into(),
            version: version.map(str::to_string),
            line: 1,
        }
    }

    fn names(resolution: &Resolution) -> Vec<String> {
        resolution
            .install
            .iter()
            .map(|package| format!("{}={}", package.name, package.version))
            .collect()
    }

    #[test]
    fn dependencies_the_run_image_lacks() {
        let archive = Catalog::new(parse_stanzas(ARCHIVE, "bookworm"));
        let run = Catalog::installed(STATUS);
        let resolution = resolve(
            &[request("libpq-dev", None), request("libssl3", None)],
            &archive,
            &run,
        )
        .expect("resolves");
        // libc6 and libssl3 are in the run image; libkrb5support0 was removed from it;
        // libsasl2-alt is virtual, provided by cyrus-sasl-alt.
        assert_eq!(
            names(&resolution),
            [
                "cyrus-sasl-alt=1.0",
                "libgssapi-krb5-2=1.20.1-2+deb12u2",
                "libkrb5support0=1.20.1-2+deb12u2",
                "libldap-2.5-0=2.5.13+dfsg-5",
                "libpq-dev=15.10-0+deb12u1",
                "libpq5=15.10-0+deb12u1",
                "libssl-dev=3.0.15-1~deb12u1",
            ]
        );
        assert_eq!(
            resolution.already_installed,
            [("libssl3".to_string(), "3.0.15-1~deb12u1".to_string())]
        );
        assert_eq!(
            resolution.install[5].filename,
            "pool/main/p/postgresql-15/libpq5_15.10-0+deb12u1_amd64.deb"
        );
    }

    #[test]
    fn pinned_unknown_and_unavailable() {
        let archive = Catalog::new(parse_stanzas(ARCHIVE, "bookworm"));
        let run = Catalog::installed(STATUS);
        let pinned =
            resolve(&[request("libpq5", Some("15.8-0+deb12u1"))], &archive, &run).expect("pin");
        assert_eq!(pinned.install[0].version, "15.8-0+deb12u1");
        assert_eq!(
            resolve(&[request("libpq", None)], &archive, &run),
            Err(ResolveError::Unknown {
                request: request("libpq", None),
                suggestions: vec!["libpq5".into(), "libpq-dev".into()],
            })
        );
        assert_eq!(
            resolve(&[request("libpq5", Some("14.1"))], &archive, &run),
            Err(ResolveError::Version {
                request: request("libpq5", Some("14.1")),
                available: vec!["15.10-0+deb12u1".into(), "15.8-0+deb12u1".into()],
            })
        );
    }

    #[test]
    fn a_dependency_nothing_satisfies() {
        let archive = Catalog::new(parse_stanzas(
            "Package: a\nVersion: 1\nDepends: b (>= 2)\n\nPackage: b\nVersion: 1\n",
            "bookworm",
        ));
        assert_eq!(
            resolve(&[request("a", None)], &archive, &Catalog::default()),
            Err(ResolveError::Unsatisfiable {
                package: "a".into(),
                relation: "b (>= 2)".into(),
                chain: vec!["a".into()],
            })
        );
    }

    #[test]
    fn relations_with_arch_qualifiers_and_alternatives() {
        assert_eq!(
            parse_relations("python3:any (>= 3.11~), libx | liby (<< 2)"),
            vec![
                vec![Relation {
                    name: "python3".into(),
                    constraint: Some((">=".into(), "3.11~".into()))
                }],
                vec![
                    Relation {
                        name: "libx".into(),
                        constraint: None
                    },
                    Relation {
                        name: "liby".into(),
                        constraint: Some(("<<".into(), "2".into()))
                    }
                ],
            ]
        );
    }
}
