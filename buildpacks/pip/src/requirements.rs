//! What a requirements set consists of: `requirements.txt` and every file it includes with
//! `-r`/`-c` (recursively), read into logical lines and options the way pip reads them
//! (`pip/_internal/req/req_file.py`). The venv cache is keyed on the content of all of them;
//! [`crate::translate`] reads what their options ask of the installer.

use blacklodge_common::download::sha256_bytes;
use std::path::{Path, PathBuf};

pub(crate) const REQUIREMENTS_FILE: &str = "requirements.txt";

/// A logical line: continuation lines (ending in `\`) joined, the comment removed, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The 1-based number of its first physical line.
    pub(crate) number: usize,
    pub(crate) text: String,
}

/// A file of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequirementsFile {
    pub(crate) path: PathBuf,
    /// The path relative to the app (`requirements/base.txt`), for messages and the cache key.
    pub(crate) name: String,
    pub(crate) contents: String,
    pub(crate) lines: Vec<Line>,
}

/// An option of a line: `--index-url https://…` is `("--index-url", Some("https://…"))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineOption {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

/// A comment starts with `#` at the beginning of a line or after whitespace (pip's
/// `COMMENT_RE`), so a URL fragment such as `#sha256=…` or `#egg=…` is not one.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let start = (0..bytes.len()).find(|&index| {
        bytes[index] == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace())
    });
    start.map_or(line, |index| &line[..index])
}

fn is_comment(line: &str) -> bool {
    strip_comment(line).trim().is_empty() && line.contains('#')
}

/// The logical lines of a requirements file, as pip's `preprocess` makes them (without the
/// expansion of `${VAR}`, which no option name contains).
pub(crate) fn logical_lines(contents: &str) -> Vec<Line> {
    let mut joined: Vec<Line> = Vec::new();
    let mut pending: Option<Line> = None;
    for (index, line) in contents.lines().enumerate() {
        let number = index + 1;
        // A comment line ends a continuation (pip's `join_lines`).
        if !line.ends_with('\\') || is_comment(line) {
            match pending.take() {
                Some(mut started) => {
                    started
                        .text
                        .push_str(if is_comment(line) { "" } else { line });
                    joined.push(started);
                }
                None => joined.push(Line {
                    number,
                    text: line.to_string(),
                }),
            }
        } else {
            let part = line.trim_end_matches('\\');
            match pending.as_mut() {
                Some(started) => started.text.push_str(part),
                None => {
                    pending = Some(Line {
                        number,
                        text: part.to_string(),
                    });
                }
            }
        }
    }
    joined.extend(pending);
    joined
        .into_iter()
        .filter_map(|Line { number, text }| {
            let text = strip_comment(&text).trim().to_string();
            (!text.is_empty()).then_some(Line { number, text })
        })
        .collect()
}

/// The options that take a value (long and short spellings); every other option is a flag.
const VALUED: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "--no-binary",
    "--only-binary",
    "--trusted-host",
    "--use-feature",
    "--hash",
    "--global-option",
    "--config-settings",
    "--install-option",
    "--build-option",
];

/// Splits `text` into words as a shell would for pip's `shlex.split`: whitespace separates,
/// quotes group.
fn words(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    found.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        found.push(current);
    }
    found
}

/// The requirement part of a line and its options (pip's `break_args_options`: the words
/// before the first one starting with `-` are the requirement).
pub(crate) fn split_line(text: &str) -> (String, Vec<LineOption>) {
    let tokens: Vec<&str> = text.split(' ').collect();
    let first_option = tokens
        .iter()
        .position(|token| token.starts_with('-'))
        .unwrap_or(tokens.len());
    let requirement = tokens[..first_option].join(" ").trim().to_string();
    let mut options = Vec::new();
    let mut rest = words(&tokens[first_option..].join(" ")).into_iter();
    while let Some(word) = rest.next() {
        let (name, attached) = if let Some(long) = word.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, value)) => (format!("--{name}"), Some(value.to_string())),
                None => (word.clone(), None),
            }
        } else if word.starts_with('-') && word.len() > 2 && word.is_char_boundary(2) {
            (word[..2].to_string(), Some(word[2..].to_string()))
        } else if word.starts_with('-') {
            (word.clone(), None)
        } else {
            // A stray word: a value of an option we do not know.
            continue;
        };
        let value = if VALUED.contains(&name.as_str()) {
            attached.or_else(|| rest.next())
        } else {
            attached
        };
        options.push(LineOption { name, value });
    }
    (requirement, options)
}

/// Files included by the lines (`-r x`, `--requirement=x`, `-c x`, `--constraint x`),
/// relative to the including file's directory `base`.
pub(crate) fn included_files(lines: &[Line], base: &Path) -> Vec<PathBuf> {
    lines
        .iter()
        .flat_map(|line| split_line(&line.text).1)
        .filter(|option| {
            ["-r", "--requirement", "-c", "--constraint"].contains(&option.name.as_str())
        })
        .filter_map(|option| option.value)
        .map(|value| base.join(value))
        .collect()
}

/// The local files `PIP_CONSTRAINT` names (space-separated, relative to the app directory,
/// where pip and uv run): part of the requirements set, so a change to one is a change to
/// the set. URLs are left out (pip fetches them; uv is refused them, see `translate`).
pub(crate) fn constraint_files(variable: Option<&str>, app_dir: &Path) -> Vec<PathBuf> {
    variable
        .unwrap_or_default()
        .split_whitespace()
        .filter(|file| !file.contains("://"))
        .map(|file| app_dir.join(file))
        .collect()
}

/// All files of the requirements set rooted at `roots` (`requirements.txt`, then the
/// `PIP_CONSTRAINT` files), the first root first, each once.
pub(crate) fn read_set(
    app_dir: &Path,
    roots: &[PathBuf],
) -> std::io::Result<Vec<RequirementsFile>> {
    let mut seen: Vec<RequirementsFile> = Vec::new();
    let mut queue: Vec<PathBuf> = roots.iter().rev().cloned().collect();
    while let Some(path) = queue.pop() {
        if seen.iter().any(|file| file.path == path) {
            continue;
        }
        let contents = fs_err::read_to_string(&path)?;
        let lines = logical_lines(&contents);
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        // Depth first, in the order of the lines (reversed for the stack).
        queue.extend(included_files(&lines, &base).into_iter().rev());
        seen.push(RequirementsFile {
            name: path
                .strip_prefix(app_dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned(),
            path,
            contents,
            lines,
        });
    }
    Ok(seen)
}

/// One sha256 over the relative path and content of every file of the set.
pub(crate) fn fingerprint(files: &[RequirementsFile]) -> String {
    let mut material = Vec::new();
    for file in files {
        material.extend_from_slice(file.name.as_bytes());
        material.push(0);
        material.extend_from_slice(file.contents.as_bytes());
        material.push(0);
    }
    sha256_bytes(&material)
}

/// A local directory the set installs (`.`, `./libs/x`, `-e .`, `name @ file:///workspace/x`),
/// relative to the app directory (where pip and uv resolve such paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalDirectory {
    pub(crate) path: PathBuf,
    pub(crate) editable: bool,
}

/// The path a requirement names, when it is a local path: `.`, `./x`, `../x`, `/abs`,
/// `file://…`, also after `name @ ` and with extras (`.[dev]`) or markers (`; …`).
fn local_path(requirement: &str) -> Option<PathBuf> {
    let requirement = requirement.split(';').next()?.trim();
    let location = requirement
        .split_once(" @ ")
        .map_or(requirement, |(_, url)| url)
        .trim();
    let location = location.strip_prefix("file://").unwrap_or(location);
    let location = match location.find('[') {
        Some(bracket) if location.ends_with(']') => &location[..bracket],
        _ => location,
    };
    (location.starts_with('.') || location.starts_with('/')).then(|| PathBuf::from(location))
}

/// The local directories inside the app that the set installs, each once (editable if any
/// line installs it editable).
pub(crate) fn local_directories(files: &[RequirementsFile], app_dir: &Path) -> Vec<LocalDirectory> {
    let mut found: Vec<LocalDirectory> = Vec::new();
    for line in files.iter().flat_map(|file| &file.lines) {
        let (requirement, options) = split_line(&line.text);
        let editable = options
            .iter()
            .filter(|option| ["-e", "--editable"].contains(&option.name.as_str()))
            .filter_map(|option| option.value.as_deref())
            .map(|value| (value.to_string(), true));
        for (text, is_editable) in std::iter::once((requirement, false)).chain(editable) {
            let Some(path) = local_path(&text) else {
                continue;
            };
            let absolute = app_dir.join(&path);
            let Ok(relative) = absolute.strip_prefix(app_dir) else {
                continue;
            };
            // `./x/../y` and `.`: the components that name a directory in the app.
            let mut normal = PathBuf::new();
            for component in relative.components() {
                match component {
                    std::path::Component::Normal(part) => normal.push(part),
                    std::path::Component::ParentDir if !normal.pop() => {
                        normal = PathBuf::from("..");
                        break;
                    }
                    _ => {}
                }
            }
            if normal.starts_with("..") || !app_dir.join(&normal).is_dir() {
                continue;
            }
            match found.iter_mut().find(|known| known.path == normal) {
                Some(known) => known.editable &= is_editable,
                None => found.push(LocalDirectory {
                    path: normal,
                    editable: is_editable,
                }),
            }
        }
    }
    found
}

/// What of the local directories belongs in the venv's cache key
/// (`local_sources::installed_fingerprint`). Empty when there are none.
///
/// # Errors
/// A file that cannot be read.
pub(crate) fn local_fingerprint(
    app_dir: &Path,
    directories: &[LocalDirectory],
) -> std::io::Result<String> {
    if directories.is_empty() {
        return Ok(String::new());
    }
    let dirs: Vec<(&Path, bool)> = directories
        .iter()
        .map(|directory| (directory.path.as_path(), directory.editable))
        .collect();
    blacklodge_python_deps::local_sources::installed_fingerprint(app_dir, &dirs, &[])
}

/// Where uv's error about an unreadable line points, as `line 2 of requirements.txt: `…``.
/// uv names the file and either a byte offset (`Couldn't parse requirement in `x` at
/// position 13`) or `x:2:1` at the end of its message; the line is read from the file.
pub(crate) fn locate_parse_error(output: &str, app_dir: &Path) -> Option<String> {
    let (file, line_number) = output.lines().find_map(|line| {
        if let Some(rest) = line.split("Couldn't parse requirement in `").nth(1) {
            let (file, rest) = rest.split_once('`')?;
            let offset: usize = rest.split("at position ").nth(1)?.trim().parse().ok()?;
            let contents = fs_err::read_to_string(app_dir.join(file)).ok()?;
            let before = contents.get(..offset.min(contents.len()))?;
            Some((file.to_string(), before.matches('\n').count() + 1))
        } else if line.contains("or the start of a requirement: ")
            || line.contains("Expected `--hash`, found")
        {
            let place = line.rsplit(": ").next()?.trim();
            let mut parts = place.rsplitn(3, ':');
            let _column = parts.next()?;
            let number: usize = parts.next()?.parse().ok()?;
            Some((parts.next()?.to_string(), number))
        } else {
            None
        }
    })?;
    let contents = fs_err::read_to_string(app_dir.join(&file)).ok()?;
    let text = contents.lines().nth(line_number.checked_sub(1)?)?.trim();
    Some(format!("line {line_number} of {file}: `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(contents: &str) -> Vec<(usize, String)> {
        logical_lines(contents)
            .into_iter()
            .map(|line| (line.number, line.text))
            .collect()
    }

    #[test]
    fn lines_are_read_as_pip_reads_them() {
        assert_eq!(
            texts(
                "# a comment\nflask==3.1.2  # pinned\n\nsix==1.17.0 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\npkg @ https://host/pkg.whl#sha256=123\n-r base.txt\t# tab comment\n"
            ),
            vec![
                (2, "flask==3.1.2".to_string()),
                (
                    4,
                    "six==1.17.0     --hash=sha256:abc     --hash=sha256:def".to_string()
                ),
                (7, "pkg @ https://host/pkg.whl#sha256=123".to_string()),
                (8, "-r base.txt".to_string()),
            ]
        );
        // A comment line ends a continuation.
        assert_eq!(
            texts("flask \\\n# note\nsix\n"),
            vec![(1, "flask".to_string()), (3, "six".to_string())]
        );
    }

    #[test]
    fn options_are_split_from_the_requirement() {
        let option = |name: &str, value: Option<&str>| LineOption {
            name: name.into(),
            value: value.map(str::to_string),
        };
        assert_eq!(
            split_line("six==1.17.0 ; python_version >= '3' --hash=sha256:abc --hash sha256:def"),
            (
                "six==1.17.0 ; python_version >= '3'".to_string(),
                vec![
                    option("--hash", Some("sha256:abc")),
                    option("--hash", Some("sha256:def"))
                ]
            )
        );
        assert_eq!(
            split_line("--index-url https://u:p@host/simple --pre"),
            (
                String::new(),
                vec![
                    option("--index-url", Some("https://u:p@host/simple")),
                    option("--pre", None)
                ]
            )
        );
        assert_eq!(
            split_line("-ihttps://host/simple"),
            (
                String::new(),
                vec![option("-i", Some("https://host/simple"))]
            )
        );
        assert_eq!(
            split_line("pkg --config-settings \"--build-option=--x\""),
            (
                "pkg".to_string(),
                vec![option("--config-settings", Some("--build-option=--x"))]
            )
        );
    }

    #[test]
    fn finds_includes_in_every_spelling() {
        let base = Path::new("/app");
        let lines = logical_lines(
            "flask==3.0\n-r base.txt\n--requirement=dev.txt\n-c constraints.txt  # pinned\n--constraint other.txt\n-rshort.txt\n--require-hashes\n-e .\n",
        );
        assert_eq!(
            included_files(&lines, base),
            [
                "base.txt",
                "dev.txt",
                "constraints.txt",
                "other.txt",
                "short.txt"
            ]
            .map(|f| base.join(f))
            .to_vec()
        );
    }

    #[test]
    fn fingerprint_changes_with_any_included_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join(REQUIREMENTS_FILE);
        fs_err::write(&root, "-r base.txt\nflask\n").expect("write");
        fs_err::write(dir.path().join("base.txt"), "requests\n").expect("write");
        let files = read_set(dir.path(), std::slice::from_ref(&root)).expect("readable");
        assert_eq!(
            files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["requirements.txt", "base.txt"]
        );
        let before = fingerprint(&files);
        fs_err::write(dir.path().join("base.txt"), "requests==2.32.3\n").expect("write");
        assert_ne!(
            before,
            fingerprint(&read_set(dir.path(), std::slice::from_ref(&root)).expect("readable"))
        );
    }

    #[test]
    fn local_directories_are_found_and_keyed_by_what_they_install() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path();
        for sub in ["libs/tool/tool", "libs/dev", "vendor"] {
            fs_err::create_dir_all(app.join(sub)).expect("mkdir");
        }
        fs_err::write(app.join("setup.py"), "setup(install_requires=['flask'])\n").expect("write");
        fs_err::write(app.join("app.py"), "print(1)\n").expect("write");
        fs_err::write(app.join("libs/tool/pyproject.toml"), "[project]\n").expect("write");
        fs_err::write(app.join("libs/tool/tool/__init__.py"), "").expect("write");
        fs_err::write(app.join("libs/dev/setup.py"), "setup()\n").expect("write");
        fs_err::write(app.join("libs/dev/dev.py"), "").expect("write");
        let root = app.join(REQUIREMENTS_FILE);
        fs_err::write(
            &root,
            format!(
                "flask==3.1.2\n.\n./libs/tool[cli] ; python_version >= '3.8'\n-e ./libs/dev\nother @ file://{}/libs/tool\n../outside\n./missing\n--find-links vendor\n",
                app.display()
            ),
        )
        .expect("write");
        let files = read_set(app, std::slice::from_ref(&root)).expect("readable");
        let local = local_directories(&files, app);
        assert_eq!(
            local,
            vec![
                LocalDirectory {
                    path: PathBuf::new(),
                    editable: false
                },
                LocalDirectory {
                    path: PathBuf::from("libs/tool"),
                    editable: false
                },
                LocalDirectory {
                    path: PathBuf::from("libs/dev"),
                    editable: true
                },
            ]
        );
        // `.` installs a copy of the whole app: any file changes it.
        let whole = local_fingerprint(app, &local[..1]).expect("readable");
        fs_err::write(app.join("app.py"), "print(2)\n").expect("write");
        assert_ne!(
            local_fingerprint(app, &local[..1]).expect("readable"),
            whole
        );
        let local = &local[1..];
        let key = || local_fingerprint(app, local).expect("readable");
        let before = key();
        // Code of an editable package is read in place: not part of the key.
        fs_err::write(app.join("libs/dev/dev.py"), "X = 1\n").expect("write");
        assert_eq!(key(), before);
        // Its declared dependencies are.
        fs_err::write(
            app.join("libs/dev/setup.py"),
            "setup(install_requires=['six'])\n",
        )
        .expect("write");
        let after_metadata = key();
        assert_ne!(after_metadata, before);
        // A copied package's code is.
        fs_err::write(app.join("libs/tool/tool/__init__.py"), "X = 1\n").expect("write");
        assert_ne!(key(), after_metadata);
        assert_eq!(local_fingerprint(app, &[]).expect("empty"), "");
    }

    #[test]
    fn pip_constraint_files_join_the_set_after_the_requirements() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join(REQUIREMENTS_FILE);
        fs_err::write(&root, "-r base.txt\nflask\n").expect("write");
        fs_err::write(dir.path().join("base.txt"), "requests\n").expect("write");
        fs_err::write(dir.path().join("pins.txt"), "idna==3.7\n").expect("write");
        let constraints = constraint_files(
            Some("pins.txt https://example.com/c.txt base.txt"),
            dir.path(),
        );
        assert_eq!(
            constraints,
            [dir.path().join("pins.txt"), dir.path().join("base.txt")]
        );
        let mut roots = vec![root.clone()];
        roots.extend(constraints);
        let files = read_set(dir.path(), &roots).expect("readable");
        assert_eq!(
            files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["requirements.txt", "base.txt", "pins.txt"]
        );
        let before = fingerprint(&files);
        fs_err::write(dir.path().join("pins.txt"), "idna==3.8\n").expect("write");
        assert_ne!(
            before,
            fingerprint(&read_set(dir.path(), &roots).expect("readable"))
        );
        assert!(constraint_files(None, dir.path()).is_empty());
    }

    #[test]
    fn include_cycles_terminate() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join("a.txt"), "-r b.txt\n").expect("write");
        fs_err::write(dir.path().join("b.txt"), "-r a.txt\n").expect("write");
        assert_eq!(
            read_set(dir.path(), &[dir.path().join("a.txt")])
                .expect("readable")
                .len(),
            2
        );
    }

    #[test]
    fn uv_parse_errors_are_located_on_their_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(
            dir.path().join(REQUIREMENTS_FILE),
            "flask==3.1.2\nflask=>3\n",
        )
        .expect("write");
        fs_err::create_dir(dir.path().join("sub")).expect("mkdir");
        fs_err::write(dir.path().join("sub/base.txt"), "six\n--upgrade\n").expect("write");
        // uv 0.13.9's messages.
        assert_eq!(
            locate_parse_error(
                "error: Couldn't parse requirement in `requirements.txt` at position 13\n  cause: no such comparison operator \"=>\", must be one of ~= == != <= >= < > ===\n",
                dir.path()
            )
            .as_deref(),
            Some("line 2 of requirements.txt: `flask=>3`")
        );
        assert_eq!(
            locate_parse_error(
                "error: Error parsing included file in `requirements.txt` at position 0\n  cause: Unexpected '-', expected '-c', '-e', '-r' or the start of a requirement: sub/base.txt:2:1\n",
                dir.path()
            )
            .as_deref(),
            Some("line 2 of sub/base.txt: `--upgrade`")
        );
        assert_eq!(
            locate_parse_error("error: something else\n", dir.path()),
            None
        );
    }
}
