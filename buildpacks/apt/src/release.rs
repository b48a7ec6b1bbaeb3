//! The Debian release of the stack and its archive: which suites to read, their signed
//! `InRelease` files (verified with `gpgv`, or `sqv` where the build image has no gpgv, as
//! on Debian 13, and the stack's keyring), and the Packages
//! indices they vouch for (verified by sha256).

use crate::errors::AptError;
use crate::index::{self, Package};
use blacklodge_common::download::{self, DownloadError, sha256_bytes};
use blacklodge_common::{command, env};
use libcnb::Env;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const MIRROR_VARIABLE: &str = "BP_APT_MIRROR_URL";
pub(crate) const SECURITY_MIRROR_VARIABLE: &str = "BP_APT_SECURITY_MIRROR_URL";
pub(crate) const KEYRING_VARIABLE: &str = "BP_APT_KEYRING";
pub(crate) const DEFAULT_MIRROR: &str = "https://deb.debian.org/debian";
pub(crate) const DEFAULT_SECURITY_MIRROR: &str = "https://deb.debian.org/debian-security";
pub(crate) const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// The only component read: Debian's free software, what the stack itself is built from.
const COMPONENT: &str = "main";
const ARCHITECTURE: &str = "amd64";

/// The stack's Debian release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Release {
    /// `12`
    pub(crate) version: String,
    /// `bookworm`
    pub(crate) codename: &'static str,
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Debian {} ({})", self.version, self.codename)
    }
}

/// The releases this buildpack knows: major version → codename.
pub(crate) const RELEASES: [(&str, &str); 2] = [("12", "bookworm"), ("13", "trixie")];

impl Release {
    /// The release of `CNB_TARGET_DISTRO_NAME` / `CNB_TARGET_DISTRO_VERSION` (`12` or `12.8`).
    pub(crate) fn from_target(name: &str, version: &str) -> Result<Self, AptError> {
        let major = version.split('.').next().unwrap_or_default();
        RELEASES
            .iter()
            .find(|(known, _)| name == "debian" && *known == major)
            .map(|(known, codename)| Self {
                version: (*known).to_string(),
                codename,
            })
            .ok_or_else(|| AptError::Distro {
                name: name.to_string(),
                version: version.to_string(),
            })
    }
}

/// Where the packages come from: the mirrors and the keyring that vouches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Archive {
    pub(crate) mirror: String,
    pub(crate) security_mirror: String,
    pub(crate) keyring: PathBuf,
}

impl Archive {
    pub(crate) fn from_env(env: &Env) -> Self {
        let url = |name, default: &str| {
            env::string(env, name)
                .unwrap_or_else(|| default.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        Self {
            mirror: url(MIRROR_VARIABLE, DEFAULT_MIRROR),
            security_mirror: url(SECURITY_MIRROR_VARIABLE, DEFAULT_SECURITY_MIRROR),
            keyring: PathBuf::from(
                env::string(env, KEYRING_VARIABLE).unwrap_or_else(|| DEFAULT_KEYRING.to_string()),
            ),
        }
    }

    /// The suites read, in order: the release, its stable updates, its security updates.
    /// Only the first must exist (a partial mirror may lack the others).
    pub(crate) fn suites(&self, release: &Release) -> Vec<Suite> {
        vec![
            Suite {
                base: self.mirror.clone(),
                name: release.codename.to_string(),
                required: true,
            },
            Suite {
                base: self.mirror.clone(),
                name: format!("{}-updates", release.codename),
                required: false,
            },
            Suite {
                base: self.security_mirror.clone(),
                name: format!("{}-security", release.codename),
                required: false,
            },
        ]
    }
}

/// One suite of one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suite {
    pub(crate) base: String,
    pub(crate) name: String,
    pub(crate) required: bool,
}

impl Suite {
    fn url(&self, path: &str) -> String {
        format!("{}/dists/{}/{path}", self.base, self.name)
    }
}

/// The packages of `suite`, or `None` when an optional suite is absent from the mirror.
pub(crate) fn read_suite(
    suite: &Suite,
    keyring: &Path,
    work: &Path,
) -> Result<Option<Vec<Package>>, AptError> {
    let in_release_url = suite.url("InRelease");
    let signed = match download::fetch(&in_release_url, None) {
        Ok(bytes) => bytes,
        Err(DownloadError::Status { status: 404, .. }) if !suite.required => return Ok(None),
        Err(error) => return Err(AptError::Fetch(error)),
    };
    let release = verify(&signed, &in_release_url, keyring, work)?;
    let codename = field(&release, "Codename").unwrap_or_default();
    if codename != suite.name {
        return Err(AptError::WrongSuite {
            url: in_release_url,
            expected: suite.name.clone(),
            found: codename,
        });
    }
    // The gzip index when the suite has one (the release's own: fastest to read), else the
    // xz one (the update suites publish only xz; theirs are small).
    let index = format!("{COMPONENT}/binary-{ARCHITECTURE}/Packages");
    let (gzip, xz) = (format!("{index}.gz"), format!("{index}.xz"));
    let (path, expected, is_gzip) = match (sha256_of(&release, &gzip), sha256_of(&release, &xz)) {
        (Some(hash), _) => (gzip, hash, true),
        (None, Some(hash)) => (xz, hash, false),
        (None, None) => {
            return Err(AptError::NotInRelease {
                url: in_release_url,
                path: gzip,
            });
        }
    };
    let url = suite.url(&path);
    let bytes = download::fetch(&url, None).map_err(AptError::Fetch)?;
    let actual = sha256_bytes(&bytes);
    if actual != expected {
        return Err(AptError::Fetch(DownloadError::Checksum {
            url,
            expected,
            actual,
        }));
    }
    let text = decompress(&bytes, is_gzip).map_err(|error| AptError::Corrupt { url, error })?;
    let mut packages = index::parse_stanzas(&text, &suite.name);
    for package in &mut packages {
        package.base.clone_from(&suite.base);
    }
    Ok(Some(packages))
}

/// The text of a gzip or xz compressed index.
fn decompress(bytes: &[u8], gzip: bool) -> Result<String, String> {
    let mut plain = Vec::new();
    if gzip {
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut plain)
            .map_err(|error| error.to_string())?;
    } else {
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(bytes), &mut plain)
            .map_err(|error| error.to_string())?;
    }
    String::from_utf8(plain).map_err(|error| error.to_string())
}

/// The signature checkers, in order of preference: GnuPG's `gpgv` (Debian 12's apt uses it)
/// and Sequoia's `sqv` (Debian 13's apt uses it; its build image has no gpgv).
const VERIFIERS: [&str; 2] = ["gpgv", "sqv"];

/// The first of [`VERIFIERS`] on `PATH`.
fn verifier() -> Option<&'static str> {
    let path = std::env::var_os("PATH")?;
    VERIFIERS
        .into_iter()
        .find(|name| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Checks the signature of an `InRelease` file with the keyring, and returns the text it
/// signs (as the verifier writes it: only what the signature covers).
fn verify(signed: &[u8], url: &str, keyring: &Path, work: &Path) -> Result<String, AptError> {
    let input = work.join("InRelease");
    let output = work.join("Release");
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |error| {
            AptError::Io(blacklodge_common::error::IoFailure {
                action,
                path,
                error,
            })
        }
    };
    fs_err::create_dir_all(work).map_err(io("create", work))?;
    fs_err::write(&input, signed).map_err(io("write", &input))?;
    let _ = fs_err::remove_file(&output);
    let tool = verifier().unwrap_or(VERIFIERS[0]);
    let mut check = Command::new(tool);
    check
        .arg("--keyring")
        .arg(keyring)
        .arg("--output")
        .arg(&output);
    if tool == "sqv" {
        check.arg("--cleartext");
    }
    if let Err(error) = command::run_captured(check.arg(&input)) {
        return Err(AptError::Signature {
            url: url.to_string(),
            keyring: keyring.to_path_buf(),
            tool,
            said: match error.output().trim() {
                "" => format!("`{}` {}", error.command(), error.reason()),
                output => output.to_string(),
            },
        });
    }
    fs_err::read_to_string(&output).map_err(io("read", &output))
}

/// A top-level field of a Release file.
fn field(release: &str, name: &str) -> Option<String> {
    release
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(|value| value.trim().to_string())
}

/// The sha256 the `SHA256:` list of a Release file gives for `path`.
fn sha256_of(release: &str, path: &str) -> Option<String> {
    release
        .lines()
        .skip_while(|line| *line != "SHA256:")
        .skip(1)
        .take_while(|line| line.starts_with(' '))
        .find_map(|line| {
            let mut parts = line.split_whitespace();
            let (hash, _size, name) = (parts.next()?, parts.next()?, parts.next()?);
            (name == path).then(|| hash.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_from_the_target() {
        assert_eq!(
            Release::from_target("debian", "12")
                .expect("12")
                .to_string(),
            "Debian 12 (bookworm)"
        );
        assert_eq!(
            Release::from_target("debian", "13.1").expect("13").codename,
            "trixie"
        );
        assert!(matches!(
            Release::from_target("ubuntu", "24.04"),
            Err(AptError::Distro { .. })
        ));
    }

    #[test]
    fn decompresses_gzip_and_xz() {
        let text = "Package: a\nVersion: 1\n";
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip, text.as_bytes()).expect("gzip");
        let gzip = gzip.finish().expect("gzip");
        assert_eq!(decompress(&gzip, true).as_deref(), Ok(text));
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut text.as_bytes(), &mut xz).expect("xz");
        assert_eq!(decompress(&xz, false).as_deref(), Ok(text));
        assert!(decompress(b"not xz", false).is_err());
    }

    #[test]
    fn reads_the_sha256_list() {
        let release = "Origin: Debian\nCodename: bookworm\nMD5Sum:\n 0123 12 main/binary-amd64/Packages.gz\nSHA256:\n aa 50060337 main/binary-amd64/Packages\n bb 12084798 main/binary-amd64/Packages.gz\n";
        assert_eq!(field(release, "Codename").as_deref(), Some("bookworm"));
        assert_eq!(
            sha256_of(release, "main/binary-amd64/Packages.gz").as_deref(),
            Some("bb")
        );
        assert_eq!(sha256_of(release, "contrib/binary-amd64/Packages.gz"), None);
    }

    #[test]
    fn suites_of_a_release() {
        let archive = Archive::from_env(&Env::new());
        let suites = archive.suites(&Release::from_target("debian", "13").expect("13"));
        let urls: Vec<String> = suites.iter().map(|suite| suite.url("InRelease")).collect();
        assert_eq!(
            urls,
            [
                "https://deb.debian.org/debian/dists/trixie/InRelease",
                "https://deb.debian.org/debian/dists/trixie-updates/InRelease",
                "https://deb.debian.org/debian-security/dists/trixie-security/InRelease",
            ]
        );
    }
}
