//! What a requirements set consists of: `requirements.txt` and every file it includes with
//! `-r`/`-c` (recursively). The venv cache is keyed on the content of all of them.

use blacklodge_common::download::sha256_bytes;
use std::path::{Path, PathBuf};

pub(crate) const REQUIREMENTS_FILE: &str = "requirements.txt";

/// Files included by a requirements file (`-r x`, `--requirement=x`, `-c x`, `--constraint x`),
/// relative to the including file's directory.
pub(crate) fn included_files(contents: &str, base: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in contents.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        for option in ["--requirement", "--constraint", "-r", "-c"] {
            if let Some(rest) = line.strip_prefix(option) {
                let rest = rest.trim_start_matches('=').trim();
                if !rest.is_empty() && !rest.starts_with('-') {
                    files.push(base.join(rest));
                }
                break;
            }
        }
    }
    files
}

/// All files of the requirements set, the root first, each once.
pub(crate) fn requirement_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut queue = vec![root.to_path_buf()];
    while let Some(path) = queue.pop() {
        if seen.contains(&path) {
            continue;
        }
        let contents = fs_err::read_to_string(&path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        queue.extend(included_files(&contents, &base));
        seen.push(path);
    }
    Ok(seen)
}

/// One sha256 over the relative path and content of every file of the set.
pub(crate) fn fingerprint(app_dir: &Path, files: &[PathBuf]) -> std::io::Result<String> {
    let mut material = Vec::new();
    for file in files {
        let relative = file.strip_prefix(app_dir).unwrap_or(file);
        material.extend_from_slice(relative.to_string_lossy().as_bytes());
        material.push(0);
        material.extend_from_slice(&fs_err::read(file)?);
        material.push(0);
    }
    Ok(sha256_bytes(&material))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_includes_in_every_spelling() {
        let base = Path::new("/app");
        let found = included_files(
            "flask==3.0\n-r base.txt\n--requirement=dev.txt\n-c constraints.txt  # pinned\n--constraint other.txt\n--require-hashes\n-e .\n",
            base,
        );
        assert_eq!(
            found,
            ["base.txt", "dev.txt", "constraints.txt", "other.txt"]
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
        let files = requirement_files(&root).expect("readable");
        assert_eq!(files.len(), 2);
        let before = fingerprint(dir.path(), &files).expect("hash");
        fs_err::write(dir.path().join("base.txt"), "requests==2.32.3\n").expect("write");
        assert_ne!(before, fingerprint(dir.path(), &files).expect("hash"));
    }

    #[test]
    fn include_cycles_terminate() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join("a.txt"), "-r b.txt\n").expect("write");
        fs_err::write(dir.path().join("b.txt"), "-r a.txt\n").expect("write");
        assert_eq!(
            requirement_files(&dir.path().join("a.txt"))
                .expect("readable")
                .len(),
            2
        );
    }
}
