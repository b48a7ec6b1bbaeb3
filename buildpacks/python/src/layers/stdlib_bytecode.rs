//! Does the unpacked runtime already carry the standard library's bytecode in the form this
//! buildpack would write (hash-based pycs that are never re-validated)? Then compiling it
//! again at every cold build is wasted time (about a second on two cores).
//!
//! `compileall` cannot answer this: for hash-based pycs it always recompiles. So the tree is
//! walked the way `compileall -x '/(test|tests|idlelib|turtledemo)/'` walks it, and every
//! module must have its pyc with the unchecked-hash flag. A single missing or timestamp-based
//! pyc (python-build-standalone ships timestamp pycs, which the lifecycle's normalised
//! mtimes would make stale) means the whole library is compiled as before.

use std::fs;
use std::io::Read;
use std::path::Path;

/// Directory names `compile_bytecode` skips: test suites and IDLE are not part of a runtime.
pub(crate) const SKIPPED_DIRS: [&str; 4] = ["test", "tests", "idlelib", "turtledemo"];

/// PEP 552 flags of a hash-based pyc that is not checked against its source.
const UNCHECKED_HASH: u32 = 0b01;

/// True when `lib/pythonX.Y` under `prefix` has an unchecked-hash pyc for every module.
pub(crate) fn is_complete(prefix: &Path) -> bool {
    let Some((stdlib, cache_tag)) = stdlib_dir(prefix) else {
        return false;
    };
    let mut modules = 0_usize;
    walk_complete(&stdlib, &cache_tag, &mut modules) && modules > 0
}

/// `lib/python3.11` and its cache tag `cpython-311`.
fn stdlib_dir(prefix: &Path) -> Option<(std::path::PathBuf, String)> {
    let lib = prefix.join("lib");
    let mut found = None;
    for entry in fs::read_dir(&lib).ok()?.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(version) = name.strip_prefix("python3.") else {
            continue;
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if found.is_some() {
            return None; // two standard libraries: not a layout this check knows
        }
        found = Some((entry.path(), format!("cpython-3{version}")));
    }
    found
}

fn walk_complete(dir: &Path, cache_tag: &str, modules: &mut usize) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            return false;
        };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() {
            if name == "__pycache__" || SKIPPED_DIRS.contains(&name.as_ref()) {
                continue;
            }
            if !walk_complete(&entry.path(), cache_tag, modules) {
                return false;
            }
        } else if kind.is_file()
            && let Some(stem) = name.strip_suffix(".py")
        {
            *modules += 1;
            let pyc = dir
                .join("__pycache__")
                .join(format!("{stem}.{cache_tag}.pyc"));
            if !is_unchecked_hash_pyc(&pyc) {
                return false;
            }
        }
    }
    true
}

/// A pyc's header: 4 bytes of magic, then the PEP 552 flags (little-endian).
fn is_unchecked_hash_pyc(path: &Path) -> bool {
    let mut header = [0_u8; 8];
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    if file.read_exact(&mut header).is_err() {
        return false;
    }
    u32::from_le_bytes([header[4], header[5], header[6], header[7]]) == UNCHECKED_HASH
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, bytes).expect("write");
    }

    fn pyc(flags: u32) -> Vec<u8> {
        let mut bytes = vec![0xa7, 0x0d, 0x0d, 0x0a];
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes
    }

    /// A small standard library: os.py and json/__init__.py, each with an unchecked-hash pyc,
    /// and a test suite without any.
    fn runtime() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let stdlib = dir.path().join("lib/python3.11");
        write(&stdlib.join("os.py"), b"");
        write(
            &stdlib.join("__pycache__/os.cpython-311.pyc"),
            &pyc(UNCHECKED_HASH),
        );
        write(&stdlib.join("json/__init__.py"), b"");
        write(
            &stdlib.join("json/__pycache__/__init__.cpython-311.pyc"),
            &pyc(UNCHECKED_HASH),
        );
        write(&stdlib.join("test/test_os.py"), b"");
        write(&stdlib.join("json/tests/test_json.py"), b"");
        write(
            &stdlib.join("lib-dynload/_json.cpython-311-x86_64-linux-gnu.so"),
            b"",
        );
        (dir, stdlib)
    }

    #[test]
    fn every_module_with_an_unchecked_hash_pyc_is_complete() {
        let (dir, _) = runtime();
        assert!(is_complete(dir.path()));
    }

    #[test]
    fn a_missing_pyc_is_not_complete() {
        let (dir, stdlib) = runtime();
        write(&stdlib.join("email/utils.py"), b"");
        assert!(!is_complete(dir.path()));
    }

    #[test]
    fn timestamp_and_checked_hash_pycs_are_not_complete() {
        for flags in [0b00, 0b11] {
            let (dir, stdlib) = runtime();
            write(&stdlib.join("__pycache__/os.cpython-311.pyc"), &pyc(flags));
            assert!(!is_complete(dir.path()), "flags {flags:#b}");
        }
    }

    #[test]
    fn a_pyc_of_another_python_is_not_complete() {
        let (dir, stdlib) = runtime();
        fs::rename(
            stdlib.join("__pycache__/os.cpython-311.pyc"),
            stdlib.join("__pycache__/os.cpython-312.pyc"),
        )
        .expect("rename");
        assert!(!is_complete(dir.path()));
    }

    #[test]
    fn a_truncated_pyc_is_not_complete() {
        let (dir, stdlib) = runtime();
        write(
            &stdlib.join("__pycache__/os.cpython-311.pyc"),
            &[0xa7, 0x0d],
        );
        assert!(!is_complete(dir.path()));
    }

    #[test]
    fn no_standard_library_is_not_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!is_complete(dir.path()));
        fs::create_dir_all(dir.path().join("lib/python3.11")).expect("mkdir");
        assert!(
            !is_complete(dir.path()),
            "an empty library has nothing compiled"
        );
    }
}
