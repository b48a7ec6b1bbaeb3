//! Exact installs (`package-list.txt`, `conda-lock.yml`): each archive is downloaded and
//! checked against the hash its line gives before anything is installed. rattler does not
//! check an explicit list's `#md5` itself, so it is checked here; the archive's sha256
//! computed here is then handed to the installer, which checks what it fetches against it.
//!
//! The record of each package comes from the archive's own `info/index.json`.

use crate::solve::chain;
use crate::spec::Entry;
use rattler_conda_types::package::{DistArchiveIdentifier, IndexJson};
use rattler_conda_types::{PackageRecord, RepoDataRecord};
use rattler_digest::{Md5, Sha256};
use reqwest_middleware::ClientWithMiddleware;
use std::path::Path;

#[derive(Debug)]
pub(crate) enum ExplicitFailure {
    Download {
        url: String,
        error: String,
    },
    HashMismatch {
        url: String,
        kind: &'static str,
        expected: String,
        actual: String,
    },
    /// Not a conda archive, or one without a readable `info/index.json`.
    Archive {
        url: String,
        error: String,
    },
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

async fn fetch(client: &ClientWithMiddleware, entry: &Entry) -> Result<Vec<u8>, ExplicitFailure> {
    let shown = crate::config::redact(&entry.url);
    if entry.url.scheme() == "file" {
        let path = entry
            .url
            .to_file_path()
            .map_err(|()| ExplicitFailure::Download {
                url: shown.clone(),
                error: "not a local path".to_string(),
            })?;
        return fs_err::read(&path).map_err(|error| ExplicitFailure::Download {
            url: shown,
            error: error.to_string(),
        });
    }
    let download = |error: String| ExplicitFailure::Download {
        url: shown.clone(),
        error,
    };
    let response = client
        .get(entry.url.clone())
        .send()
        .await
        .map_err(|error| download(chain(&error)))?
        .error_for_status()
        .map_err(|error| download(chain(&error)))?;
    Ok(response
        .bytes()
        .await
        .map_err(|error| download(chain(&error)))?
        .to_vec())
}

/// Downloads and checks `entry`, returning its record. `scratch` holds the archive while its
/// `index.json` is read.
pub(crate) async fn record(
    client: &ClientWithMiddleware,
    entry: &Entry,
    scratch: &Path,
) -> Result<RepoDataRecord, ExplicitFailure> {
    let shown = crate::config::redact(&entry.url);
    let bytes = fetch(client, entry).await?;
    let md5 = rattler_digest::compute_bytes_digest::<Md5>(&bytes);
    let sha256 = rattler_digest::compute_bytes_digest::<Sha256>(&bytes);
    if let Some(expected) = entry.md5
        && expected != md5
    {
        return Err(ExplicitFailure::HashMismatch {
            url: shown,
            kind: "md5",
            expected: crate::lock::hex(&expected),
            actual: crate::lock::hex(&md5),
        });
    }
    if let Some(expected) = entry.sha256
        && expected != sha256
    {
        return Err(ExplicitFailure::HashMismatch {
            url: shown,
            kind: "sha256",
            expected: crate::lock::hex(&expected),
            actual: crate::lock::hex(&sha256),
        });
    }
    let file_name = entry.file_name();
    let archive_error = |error: String| ExplicitFailure::Archive {
        url: shown.clone(),
        error,
    };
    let identifier = DistArchiveIdentifier::try_from_filename(&file_name).ok_or_else(|| {
        archive_error("the file name is not that of a conda package (.conda or .tar.bz2)".into())
    })?;
    let path = scratch.join(&file_name);
    fs_err::write(&path, &bytes).map_err(|error| ExplicitFailure::Io {
        path: path.clone(),
        error,
    })?;
    let index: Result<IndexJson, _> = rattler_package_streaming::seek::read_package_file(&path);
    let _ = fs_err::remove_file(&path);
    let index = index.map_err(|error| archive_error(chain(&error)))?;
    let size = u64::try_from(bytes.len()).ok();
    let package_record = PackageRecord::from_index_json(index, size, Some(sha256), Some(md5))
        .map_err(|error| archive_error(chain(&error)))?;
    Ok(RepoDataRecord {
        package_record,
        identifier,
        url: entry.url.clone(),
        channel: None,
    })
}

/// [`record`] of every entry, in order.
pub(crate) async fn records(
    client: &ClientWithMiddleware,
    entries: &[Entry],
    scratch: &Path,
) -> Result<Vec<RepoDataRecord>, ExplicitFailure> {
    fs_err::create_dir_all(scratch).map_err(|error| ExplicitFailure::Io {
        path: scratch.to_path_buf(),
        error,
    })?;
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries {
        records.push(record(client, entry, scratch).await?);
    }
    Ok(records)
}
