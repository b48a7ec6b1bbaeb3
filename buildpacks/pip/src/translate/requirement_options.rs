//! The options pip accepts inside requirement files that uv reads differently or not at all.

use super::{SETUP_PY_OPTION, Unsupported, push_once};
use crate::requirements::{RequirementsFile, split_line};
use std::path::PathBuf;

/// Lines of a requirements file that uv reads without their `-e`: the file is rewritten in
/// place for the install and restored afterwards, so relative paths and includes mean what
/// they mean to pip, and uv's messages name the real file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pub(crate) path: PathBuf,
    /// 1-based numbers of the physical lines that carry `-e git+…`.
    pub(crate) lines: Vec<usize>,
}

impl Rewrite {
    /// `contents` with the editable option removed from the listed lines (the URL, with its
    /// `#egg=` fragment, stays; so does a comment after it).
    pub(crate) fn apply(&self, contents: &str) -> String {
        contents
            .split_inclusive('\n')
            .enumerate()
            .map(|(index, line)| {
                if self.lines.contains(&(index + 1)) {
                    without_editable(line).unwrap_or_else(|| line.to_string())
                } else {
                    line.to_string()
                }
            })
            .collect()
    }
}

/// `-e git+URL`, `--editable git+URL`, `--editable=git+URL` (and `-egit+URL`) as `git+URL`;
/// `None` for any other line.
fn without_editable(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let rest = ["--editable", "-e"]
        .iter()
        .find_map(|option| trimmed.strip_prefix(option))?;
    let rest = rest.trim_start_matches(['=', ' ', '\t']);
    rest.starts_with("git+").then(|| rest.to_string())
}

/// The options pip accepts in requirements files that uv reads the same way.
const SAME_IN_UV: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--no-index",
    "--no-binary",
    "--only-binary",
];

/// What the files' options ask for: flags for uv, and what cannot be honoured.
#[derive(Debug, Default)]
pub(super) struct FileOptions {
    pub(super) args: Vec<String>,
    pub(super) notes: Vec<String>,
    pub(super) hash_checking: Option<String>,
    /// The files choose the index (`--index-url` or `--no-index`), which pip lets override
    /// `PIP_INDEX_URL` and `PIP_EXTRA_INDEX_URL` (uv would prefer the variables).
    pub(super) choose_index: bool,
    pub(super) unsupported: Vec<Unsupported>,
    pub(super) rewrites: Vec<Rewrite>,
}

/// The options of every file, in the order pip reads them.
pub(super) fn read(files: &[RequirementsFile]) -> FileOptions {
    let mut found = FileOptions::default();
    let mut index_urls: Vec<(String, String)> = Vec::new();
    for file in files {
        for line in &file.lines {
            let place = format!("line {} of {}", line.number, file.name);
            let (requirement, options) = split_line(&line.text);
            for option in options {
                let value = option.value.clone().unwrap_or_default();
                let mut unsupported = |why: &str| {
                    found.unsupported.push(Unsupported {
                        place: place.clone(),
                        what: format!("`{}`", line.text),
                        why: why.to_string(),
                    });
                };
                match option.name.as_str() {
                    "--hash" | "--require-hashes" if found.hash_checking.is_none() => {
                        found.hash_checking = Some(format!("{} on {place}", option.name));
                    }
                    "--hash" | "--require-hashes" => {}
                    "-e" | "--editable" if value.starts_with("git+") => {
                        let physical = file.contents.lines().nth(line.number - 1);
                        if physical.and_then(without_editable).is_some() {
                            match found.rewrites.iter_mut().find(|r| r.path == file.path) {
                                Some(rewrite) => rewrite.lines.push(line.number),
                                None => found.rewrites.push(Rewrite {
                                    path: file.path.clone(),
                                    lines: vec![line.number],
                                }),
                            }
                            found
                                .notes
                                .push(format!("-e git+… → non-editable ({place})"));
                        } else {
                            unsupported(
                                "uv installs git requirements only non-editable, and this one continues over several lines: write it on one line (it is then installed without `-e`).",
                            );
                        }
                    }
                    "-e" | "--editable" if is_vcs(&value) => unsupported(
                        "uv installs no Mercurial, Subversion or Bazaar requirements, editable or not (git only).",
                    ),
                    "-i" | "--index-url" => {
                        found.choose_index = true;
                        index_urls.push((value, place.clone()));
                    }
                    "--no-index" => found.choose_index = true,
                    name if SAME_IN_UV.contains(&name) => {}
                    "--pre" => {
                        push_once(&mut found.args, &["--prerelease", "allow"]);
                        push_once(&mut found.notes, &[format!("--pre ({place})")]);
                    }
                    "--trusted-host" => {
                        found
                            .args
                            .extend(["--allow-insecure-host".to_string(), value]);
                        found.notes.push(format!("--trusted-host ({place})"));
                    }
                    "--use-feature" if value == "truststore" => {
                        // uv uses the system trust store already (`UV_SYSTEM_CERTS`).
                    }
                    "--use-feature" => {
                        unsupported("pip's feature switches have no counterpart in uv.");
                    }
                    "--prefer-binary" => unsupported(
                        "uv has no such preference: it installs the newest version that fits, built from source when it has no wheel. Pin the version that has a wheel instead.",
                    ),
                    "--global-option" | "--install-option" | "--build-option" => {
                        unsupported(&format!("`{}` {SETUP_PY_OPTION}.", option.name));
                    }
                    "--config-settings" if !requirement.is_empty() => unsupported(
                        "uv takes build backend settings only on its command line (`--config-settings-package`), not per requirement.",
                    ),
                    // Anything else is not a requirements file option for pip either; uv
                    // reports the line when it reads it.
                    _ => {}
                }
            }
        }
    }
    let mut distinct: Vec<&(String, String)> = Vec::new();
    for entry in &index_urls {
        if !distinct.iter().any(|(url, _)| *url == entry.0) {
            distinct.push(entry);
        }
    }
    if let [_, .., (_, last)] = distinct.as_slice() {
        found.unsupported.push(Unsupported {
            place: distinct
                .iter()
                .map(|(_, place)| place.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            what: "`--index-url` (more than one)".to_string(),
            why: format!(
                "pip uses the last one read ({last}), uv the first. Keep one --index-url and make the others --extra-index-url."
            ),
        });
    }
    found
}

fn is_vcs(url: &str) -> bool {
    ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}
