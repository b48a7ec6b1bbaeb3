//! Custom CA certificates: a CNB binding of type `ca-certificates` (the convention of the
//! Paketo CA buildpack and the service binding spec) plus the image trust store, handed to
//! every tool we run: pip (`PIP_CERT`), uv (`SSL_CERT_FILE` with system certificates on),
//! anything using requests (`REQUESTS_CA_BUNDLE`) or OpenSSL (`SSL_CERT_FILE`), and git, which
//! uv runs for git dependencies (`GIT_SSL_CAINFO`: Debian's git uses GnuTLS, which does not
//! read `SSL_CERT_FILE`).
//!
//! The combined bundle is written outside every layer, so it never reaches the app image.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binding type this module honours.
pub const BINDING_TYPE: &str = "ca-certificates";
/// The trust store of the Debian-based build image.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug)]
pub enum CaError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file in a `ca-certificates` binding that holds no PEM certificate.
    NotPem { binding: String, file: PathBuf },
    /// A `ca-certificates` binding with no certificate file.
    Empty { binding: String },
}

/// The certificates found in the `ca-certificates` bindings, by binding name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Bindings {
    pub names: Vec<String>,
    pub pem: String,
}

/// Where bindings are mounted: `$SERVICE_BINDING_ROOT`, `$CNB_BINDINGS`, else
/// `$CNB_PLATFORM_DIR/bindings` (`/platform/bindings`).
#[must_use]
pub fn bindings_root() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    var("SERVICE_BINDING_ROOT")
        .or_else(|| var("CNB_BINDINGS"))
        .map_or_else(
            || {
                var("CNB_PLATFORM_DIR")
                    .map_or_else(|| PathBuf::from("/platform"), PathBuf::from)
                    .join("bindings")
            },
            PathBuf::from,
        )
}

/// The TLS settings of the build's tools from the `ca-certificates` bindings of the platform,
/// logging which bindings are trusted.
///
/// # Errors
/// An unreadable binding, or one without a PEM certificate.
pub fn trusted_tls() -> Result<Tls, CaError> {
    let bindings = read_bindings(&bindings_root())?;
    if !bindings.names.is_empty() {
        blacklodge_common::output::detail(format!(
            "Trusting the CA certificates of {}: {}",
            blacklodge_common::output::noun(bindings.names.len(), "binding", "bindings"),
            bindings.names.join(", ")
        ));
    }
    Tls::prepare(&bindings, &std::env::temp_dir())
}

/// Reads every binding of type `ca-certificates` under `root` (none is fine).
///
/// # Errors
/// [`CaError`] for unreadable files, files that are not PEM certificates, or empty bindings.
pub fn read_bindings(root: &Path) -> Result<Bindings, CaError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CaError::Io { path, error }
    };
    let Ok(entries) = fs_err::read_dir(root) else {
        return Ok(Bindings::default());
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("type").is_file())
        .collect();
    dirs.sort();
    let mut found = Bindings::default();
    for dir in dirs {
        let kind = fs_err::read_to_string(dir.join("type")).map_err(io(&dir.join("type")))?;
        if !kind.trim().eq_ignore_ascii_case(BINDING_TYPE) {
            continue;
        }
        let binding = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.is_file()
                    && !path
                        .file_name()
                        .is_some_and(|name| name == "type" || name == "provider")
                    && !path
                        .file_name()
                        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(CaError::Empty { binding });
        }
        for file in files {
            let pem = fs_err::read_to_string(&file).map_err(io(&file))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(CaError::NotPem {
                    binding: binding.clone(),
                    file,
                });
            }
            found.pem.push_str(pem.trim_end());
            found.pem.push('\n');
        }
        found.names.push(binding);
    }
    Ok(found)
}

/// The TLS settings every tool gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// The combined bundle (image trust store + bindings), when there are bindings.
    pub bundle: Option<PathBuf>,
}

impl Tls {
    /// Writes the combined bundle into `scratch` when bindings carry certificates.
    ///
    /// # Errors
    /// [`CaError::Io`] when the bundle cannot be written.
    pub fn prepare(bindings: &Bindings, scratch: &Path) -> Result<Self, CaError> {
        if bindings.names.is_empty() {
            return Ok(Self::default());
        }
        let mut pem = fs_err::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
        if !pem.is_empty() && !pem.ends_with('\n') {
            pem.push('\n');
        }
        pem.push_str(&bindings.pem);
        let bundle = scratch.join("blacklodge-ca-bundle.pem");
        fs_err::write(&bundle, pem).map_err(|error| CaError::Io {
            path: bundle.clone(),
            error,
        })?;
        Ok(Self {
            bundle: Some(bundle),
        })
    }

    /// The variables for a tool's process.
    #[must_use]
    pub fn vars(&self) -> Vec<(&'static str, OsString)> {
        // uv: the platform store (the image trust store, where corporate CAs usually are)
        // instead of its bundled webpki roots.
        let mut vars = vec![("UV_SYSTEM_CERTS", OsString::from("1"))];
        if let Some(bundle) = &self.bundle {
            for name in [
                "SSL_CERT_FILE",
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "GIT_SSL_CAINFO",
            ] {
                vars.push((name, bundle.clone().into_os_string()));
            }
        }
        vars
    }

    /// Applies [`Tls::vars`] to a command.
    pub fn apply(&self, command: &mut Command) {
        for (name, value) in self.vars() {
            command.env(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn reads_only_ca_certificate_bindings() {
        let root = tempfile::tempdir().expect("tempdir");
        let ca = root.path().join("corp-ca");
        fs_err::create_dir(&ca).expect("mkdir");
        fs_err::write(ca.join("type"), "ca-certificates\n").expect("write");
        fs_err::write(ca.join("proxy.pem"), PEM).expect("write");
        let other = root.path().join("db");
        fs_err::create_dir(&other).expect("mkdir");
        fs_err::write(other.join("type"), "postgres").expect("write");
        fs_err::write(other.join("password"), "secret").expect("write");

        let found = read_bindings(root.path()).expect("readable");
        assert_eq!(found.names, vec!["corp-ca".to_string()]);
        assert_eq!(found.pem, PEM);

        let tls = Tls::prepare(&found, root.path()).expect("written");
        let bundle = tls.bundle.clone().expect("a bundle");
        assert!(
            fs_err::read_to_string(&bundle)
                .expect("bundle")
                .ends_with(PEM)
        );
        assert!(tls.vars().contains(&("PIP_CERT", bundle.into_os_string())));
    }

    #[test]
    fn rejects_files_that_are_not_certificates() {
        let root = tempfile::tempdir().expect("tempdir");
        let ca = root.path().join("ca");
        fs_err::create_dir(&ca).expect("mkdir");
        fs_err::write(ca.join("type"), "ca-certificates").expect("write");
        fs_err::write(ca.join("cert.pem"), "not a cert").expect("write");
        assert!(matches!(
            read_bindings(root.path()),
            Err(CaError::NotPem { .. })
        ));
    }

    #[test]
    fn no_bindings_means_the_image_trust_store() {
        let tls = Tls::prepare(&Bindings::default(), Path::new("/nonexistent")).expect("ok");
        assert_eq!(tls, Tls::default());
        assert_eq!(tls.vars(), vec![("UV_SYSTEM_CERTS", OsString::from("1"))]);
    }
}
