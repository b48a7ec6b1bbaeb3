//! Downloads with timeouts, bounded retries and checksum verification.
//!
//! A download is written to a temporary file next to its destination and only renamed into
//! place once the sha256 matches, so a truncated or corrupted archive never reaches a layer.
//! `file://` URLs and plain paths are accepted too (mirrors on a mounted volume, overrides).

use sha2::{Digest, Sha256};
use std::fmt::Display;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Attempts per download (the first try plus retries).
pub const ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for the next bytes (not for the whole body: archives can be large).
const READ_TIMEOUT: Duration = Duration::from_mins(1);

#[derive(Debug)]
pub enum DownloadError {
    /// The server answered with an error status.
    Status { url: String, status: u16 },
    /// No answer: DNS, connection, TLS or timeout.
    Transport { url: String, message: String },
    /// Local file problems.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The bytes do not have the expected sha256.
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
}

impl Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { url, status } => write!(f, "{url} answered HTTP {status}"),
            Self::Transport { url, message } => write!(f, "{url} could not be reached: {message}"),
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Checksum {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{url} does not have the expected sha256 checksum (expected {expected}, got {actual})"
            ),
        }
    }
}

impl DownloadError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::Io { .. } | Self::Checksum { .. } => false,
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .user_agent(concat!("blacklodge-buildpacks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A local path when `location` is a `file://` URL or has no scheme.
fn local_path(location: &str) -> Option<PathBuf> {
    if let Some(path) = location.strip_prefix("file://") {
        Some(PathBuf::from(path))
    } else if location.contains("://") {
        None
    } else {
        Some(PathBuf::from(location))
    }
}

fn open(
    location: &str,
    accept: Option<&str>,
) -> Result<Box<dyn Read + Send + Sync>, DownloadError> {
    if let Some(path) = local_path(location) {
        return fs_err::File::open(&path)
            .map(|file| Box::new(file) as Box<dyn Read + Send + Sync>)
            .map_err(|error| DownloadError::Io { path, error });
    }
    let mut request = agent().get(location);
    if let Some(accept) = accept {
        request = request.set("Accept", accept);
    }
    match request.call() {
        Ok(response) => Ok(response.into_reader()),
        Err(ureq::Error::Status(status, _)) => Err(DownloadError::Status {
            url: location.to_string(),
            status,
        }),
        Err(ureq::Error::Transport(transport)) => Err(DownloadError::Transport {
            url: location.to_string(),
            message: transport.to_string(),
        }),
    }
}

/// Retries `attempt` on transient failures with exponential backoff (1s, 2s, …).
fn with_retries<T>(
    mut attempt: impl FnMut() -> Result<T, DownloadError>,
) -> Result<T, DownloadError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt() {
            Err(error) if error.is_transient() && tries < ATTEMPTS => {
                let wait = Duration::from_secs(1 << (tries - 1));
                crate::output::retry_note(format!(
                    "attempt {tries} failed: {error}; retrying in {}s",
                    wait.as_secs()
                ));
                std::thread::sleep(wait);
            }
            result => return result,
        }
    }
}

/// Fetches a small document (a manifest, an index page) into memory.
///
/// # Errors
/// [`DownloadError`] after the retries are exhausted.
pub fn fetch(location: &str, accept: Option<&str>) -> Result<Vec<u8>, DownloadError> {
    with_retries(|| {
        let mut body = Vec::new();
        open(location, accept)?
            .read_to_end(&mut body)
            .map_err(|error| DownloadError::Transport {
                url: location.to_string(),
                message: error.to_string(),
            })?;
        Ok(body)
    })
}

/// Downloads `location` to `destination`, verifying its sha256 (lower-case hex).
///
/// # Errors
/// [`DownloadError`]; on any error nothing is left at `destination`.
pub fn download_verified(
    location: &str,
    destination: &Path,
    expected_sha256: &str,
) -> Result<(), DownloadError> {
    let partial = destination.with_extension("partial");
    let result = with_retries(|| {
        let mut reader = open(location, None)?;
        let io_error = |error| DownloadError::Io {
            path: partial.clone(),
            error,
        };
        let mut file = fs_err::File::create(&partial).map_err(io_error)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let read = reader
                .read(&mut buffer)
                .map_err(|error| DownloadError::Transport {
                    url: location.to_string(),
                    message: format!("download interrupted: {error}"),
                })?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read]).map_err(io_error)?;
        }
        file.flush().map_err(io_error)?;
        let actual = hex::encode(hasher.finalize());
        if actual.eq_ignore_ascii_case(expected_sha256) {
            Ok(())
        } else {
            Err(DownloadError::Checksum {
                url: location.to_string(),
                expected: expected_sha256.to_string(),
                actual,
            })
        }
    });
    match result {
        Ok(()) => fs_err::rename(&partial, destination).map_err(|error| DownloadError::Io {
            path: destination.to_path_buf(),
            error,
        }),
        Err(error) => {
            let _ = fs_err::remove_file(&partial);
            Err(error)
        }
    }
}

/// The sha256 of a file, lower-case hex.
///
/// # Errors
/// I/O errors reading the file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The sha256 of bytes, lower-case hex.
#[must_use]
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Extracts a `.tar.gz` into `destination`, dropping the first `strip_components` path
/// components (like `tar --strip-components`). Permissions and symlinks are kept; entries
/// that would land outside `destination` (`..`, absolute paths) are refused.
///
/// # Errors
/// I/O errors, including a corrupt archive or an escaping entry.
pub fn extract_tar_gz(
    archive: &Path,
    destination: &Path,
    strip_components: usize,
) -> std::io::Result<()> {
    let strip = |path: &Path| -> std::io::Result<Option<PathBuf>> {
        let stripped: PathBuf = path.components().skip(strip_components).collect();
        if stripped
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(std::io::Error::other(format!(
                "archive entry {} escapes the destination",
                path.display()
            )));
        }
        Ok((!stripped.as_os_str().is_empty()).then_some(stripped))
    };
    let file = fs_err::File::open(archive)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.set_preserve_permissions(true);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let Some(relative) = strip(&entry.path()?)? else {
            continue;
        };
        let target = destination.join(&relative);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        if entry.header().entry_type().is_hard_link() {
            // Hard link names are archive paths too: strip and anchor them the same way.
            let link = entry
                .link_name()?
                .ok_or_else(|| std::io::Error::other("hard link without a target"))?;
            let Some(link) = strip(&link)? else {
                continue;
            };
            fs_err::hard_link(destination.join(link), &target)?;
        } else {
            entry.unpack(&target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_download_from_a_file_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("source.bin");
        fs_err::write(&source, b"hello").expect("write");
        let destination = dir.path().join("copy.bin");
        download_verified(
            &format!("file://{}", source.display()),
            &destination,
            &sha256_bytes(b"hello"),
        )
        .expect("checksum matches");
        assert_eq!(fs_err::read(&destination).expect("read"), b"hello");
    }

    #[test]
    fn checksum_mismatch_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("source.bin");
        fs_err::write(&source, b"tampered").expect("write");
        let destination = dir.path().join("copy.bin");
        let error = download_verified(
            source.to_str().expect("utf8"),
            &destination,
            &sha256_bytes(b"hello"),
        )
        .expect_err("checksum differs");
        assert!(matches!(error, DownloadError::Checksum { .. }));
        assert!(
            error
                .to_string()
                .contains("does not have the expected sha256")
        );
        assert!(!destination.exists());
        assert!(!destination.with_extension("partial").exists());
    }

    #[test]
    fn unreachable_server_is_a_transport_error_after_retries() {
        // Port 9 (discard) on loopback is closed here: connection refused, retried, reported.
        let error = fetch("http://127.0.0.1:9/manifest.json", None).expect_err("nothing listens");
        assert!(
            matches!(error, DownloadError::Transport { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("http://127.0.0.1:9/manifest.json could not be reached")
        );
    }

    #[test]
    fn extracts_with_stripped_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("a.tar.gz");
        {
            let file = fs_err::File::create(&archive).expect("create");
            let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            ));
            let mut header = tar::Header::new_gnu();
            header.set_size(2);
            header.set_mode(0o755);
            header.set_cksum();
            builder
                .append_data(&mut header, "python/bin/python3", &b"hi"[..])
                .expect("append");
            builder.into_inner().expect("finish").finish().expect("gz");
        }
        let out = dir.path().join("out");
        extract_tar_gz(&archive, &out, 1).expect("extract");
        assert_eq!(fs_err::read(out.join("bin/python3")).expect("read"), b"hi");
    }

    #[test]
    fn entries_escaping_the_destination_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("evil.tar.gz");
        {
            let file = fs_err::File::create(&archive).expect("create");
            let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            ));
            let mut header = tar::Header::new_gnu();
            // Written raw: the tar crate refuses to create such a path itself.
            let name = b"python/../../evil";
            header.as_gnu_mut().expect("gnu header").name[..name.len()].copy_from_slice(name);
            header.set_size(1);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, &b"x"[..]).expect("append");
            builder.into_inner().expect("finish").finish().expect("gz");
        }
        let out = dir.path().join("out");
        let error = extract_tar_gz(&archive, &out, 1).expect_err("must refuse");
        assert!(
            error.to_string().contains("escapes the destination"),
            "{error}"
        );
        assert!(!dir.path().join("evil").exists());
    }
}
