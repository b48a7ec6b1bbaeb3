//! Makes an unpacked tree work where it is rather than at `/`: absolute symbolic links to
//! files of the tree point into it, and the paths pkg-config files and `*-config` scripts
//! (`pg_config`, `xml2-config`…) print name the tree's directories when they are in it.

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
        } else if is_pkg_config(&path) || is_config_script(&path) {
            let Ok(text) = fs_err::read_to_string(&path) else {
                continue; // not text: left as it is
            };
            let rewritten = paths_into(&text, root);
            if rewritten != text {
                fs_err::write(&path, rewritten).map_err(io_failure("write", &path))?;
            }
        }
    }
    Ok(())
}

fn is_pkg_config(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "pc")
        && path
            .parent()
            .is_some_and(|parent| parent.ends_with("pkgconfig"))
}

/// A script in `usr/bin` named `*config` (`pg_config`, `xml2-config`, `curl-config`…): build
/// tools run them for compiler flags.
fn is_config_script(path: &Path) -> bool {
    path.parent()
        .is_some_and(|parent| parent.ends_with("usr/bin"))
        && path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with("config"))
}

/// Every absolute `/usr`, `/usr/…`, `/lib` or `/lib/…` path in `text` (after a space, `=`, a quote, `:` or
/// `-I`/`-L`) that exists under `root`, prefixed with `root`. Paths the tree does not have
/// (the base image's) are left alone.
fn paths_into(text: &str, root: &Path) -> String {
    let prefix = root.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["/usr", "/lib"]
        .iter()
        .filter_map(|dir| rest.find(dir))
        .min()
    {
        let before = &rest[..start];
        let boundary = before.is_empty()
            || before.ends_with([' ', '\t', '\n', '=', '"', '\'', ':', '('])
            || before.ends_with("-I")
            || before.ends_with("-L");
        let end = rest[start..]
            .find(|c: char| c.is_whitespace() || "\"':;,)".contains(c))
            .map_or(rest.len(), |end| start + end);
        let path = &rest[start..end];
        out.push_str(before);
        let inside = root.join(path.trim_start_matches('/'));
        let absolute = ["/usr", "/lib"]
            .iter()
            .any(|dir| path == *dir || path.starts_with(&format!("{dir}/")));
        if boundary && absolute && inside.exists() {
            out.push_str(&prefix);
        }
        out.push_str(path);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_the_tree_has_point_into_it() {
        let root = tempfile::tempdir().expect("tempdir");
        for dir in ["usr/include/postgresql", "usr/lib/x86_64-linux-gnu"] {
            fs_err::create_dir_all(root.path().join(dir)).expect("mkdir");
        }
        let at = root.path().display();
        let pc = "prefix=/usr\nlibdir=${prefix}/lib/x86_64-linux-gnu\nincludedir=/usr/include/postgresql\n\nName: libpq\nCflags: -I${includedir}\n";
        assert_eq!(
            paths_into(pc, root.path()),
            format!(
                "prefix={at}/usr\nlibdir=${{prefix}}/lib/x86_64-linux-gnu\nincludedir={at}/usr/include/postgresql\n\nName: libpq\nCflags: -I${{includedir}}\n"
            )
        );
        let script = "INCLUDEDIR = /usr/include/postgresql\nSERVER = /usr/include/postgresql/15/server\nCPPFLAGS = -I/usr/include/libxml2 -L/usr/lib/x86_64-linux-gnu/\nPERL='/usr/bin/perl'\nx/usr/lib\n";
        assert_eq!(
            paths_into(script, root.path()),
            format!(
                "INCLUDEDIR = {at}/usr/include/postgresql\nSERVER = /usr/include/postgresql/15/server\nCPPFLAGS = -I/usr/include/libxml2 -L{at}/usr/lib/x86_64-linux-gnu/\nPERL='/usr/bin/perl'\nx/usr/lib\n"
            )
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
