//! Makes an unpacked tree work where it is rather than at `/`: absolute symbolic links to
//! files of the tree point into it, and pkg-config files name the tree's directories.

use crate::errors::AptError;
use blacklodge_common::error::io_failure;
use std::path::Path;

/// Rewrites the links and `.pc` files under `root`.
pub(crate) fn relocate(root: &Path) -> Result<(), AptError> {
    walk(root, root)
}

fn walk(root: &Path, dir: &Path) -> Result<(), AptError> {
    for entry in fs_err::read_dir(dir).map_err(io_failure("read", dir))? {
        let entry = entry.map_err(io_failure("read", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_failure("inspect", &path))?;
        if kind.is_symlink() {
            let target = fs_err::read_link(&path).map_err(io_failure("read", &path))?;
            if let Ok(inside) = target.strip_prefix("/") {
                let moved = root.join(inside);
                if moved.symlink_metadata().is_ok() {
                    fs_err::remove_file(&path).map_err(io_failure("replace", &path))?;
                    std::os::unix::fs::symlink(&moved, &path)
                        .map_err(io_failure("create", &path))?;
                }
            }
        } else if kind.is_dir() {
            walk(root, &path)?;
        } else if path.extension().is_some_and(|ext| ext == "pc")
            && path
                .parent()
                .is_some_and(|parent| parent.ends_with("pkgconfig"))
        {
            let text = fs_err::read_to_string(&path).map_err(io_failure("read", &path))?;
            let rewritten = pkg_config(&text, root);
            if rewritten != text {
                fs_err::write(&path, rewritten).map_err(io_failure("write", &path))?;
            }
        }
    }
    Ok(())
}

/// `prefix=/usr` → `prefix=<root>/usr`, for every variable that holds an absolute path.
fn pkg_config(text: &str, root: &Path) -> String {
    let root = root.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.split_once('=') {
            Some((name, value))
                if !name.contains([':', ' ', '$'])
                    && (value.starts_with("/usr") || value.starts_with("/lib")) =>
            {
                out.push_str(&format!("{name}={root}{value}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkg_config_variables_point_into_the_tree() {
        let text = "prefix=/usr\nlibdir=${prefix}/lib/x86_64-linux-gnu\nincludedir=/usr/include/postgresql\n\nName: libpq\nCflags: -I${includedir}\n";
        assert_eq!(
            pkg_config(text, Path::new("/layers/blacklodge_apt/packages")),
            "prefix=/layers/blacklodge_apt/packages/usr\nlibdir=${prefix}/lib/x86_64-linux-gnu\nincludedir=/layers/blacklodge_apt/packages/usr/include/postgresql\n\nName: libpq\nCflags: -I${includedir}\n"
        );
    }

    #[test]
    fn absolute_links_into_the_tree_are_moved() {
        let root = tempfile::tempdir().expect("tempdir");
        let lib = root.path().join("usr/lib");
        fs_err::create_dir_all(&lib).expect("mkdir");
        fs_err::write(lib.join("libx.so.1"), "elf").expect("write");
        std::os::unix::fs::symlink("/usr/lib/libx.so.1", lib.join("libx.so")).expect("link");
        std::os::unix::fs::symlink("/etc/passwd", lib.join("outside")).expect("link");
        relocate(root.path()).expect("relocates");
        assert_eq!(
            fs_err::read_link(lib.join("libx.so")).expect("link"),
            lib.join("libx.so.1")
        );
        assert_eq!(
            fs_err::read_link(lib.join("outside")).expect("link"),
            Path::new("/etc/passwd")
        );
    }
}
