//! A private package index on loopback for the dependency tests: `tests/fixtures/deps-index/
//! server.py` run with the host's python3. It serves `blacklodge-private` 1.0.0 and passes
//! other projects through from PyPI, optionally behind basic auth and/or TLS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the credential tests: it must never be persisted anywhere (see
/// [`crate::assert_secret_kept_out`]).
pub const SECRET: &str = "s3cr3t-Blacklodge-42";
/// The user of the credential tests.
pub const USER: &str = "ci-user";

#[derive(Default)]
pub struct Options {
    pub credentials: Option<(String, String)>,
    /// PEM certificate and key (TLS when set).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A fixed port (lockfiles record the index URL); a free one otherwise.
    pub port: Option<u16>,
}

pub struct PrivateIndex {
    pub port: u16,
    scheme: &'static str,
    child: Child,
    /// A fixed fixture port is held while the server runs (dropped after `child` is killed).
    _port: Option<std::fs::File>,
}

/// A private index behind basic auth on `port` (the fixture's lock names it): the app of
/// `fixture`, built with [`USER`] in `user_variable` and [`SECRET`] in `password_variable`,
/// installs and runs `blacklodge-private` and keeps the secret out of the log and the image
/// ([`crate::assert_secret_kept_out`]); with a wrong password the index rejects the build's
/// install of `lock_file`. Images are named after `name`. Returns the failed build's log.
#[must_use]
pub fn credentials_used_and_kept_out(
    fixture: &str,
    name: &str,
    port: u16,
    [user_variable, password_variable]: [&str; 2],
    lock_file: &str,
) -> String {
    let _index = PrivateIndex::with_secret(Some(port));
    let app = crate::App::fixture(fixture);
    let image = crate::Image::new(name).credentials(user_variable, password_variable, SECRET);
    let log = image.build_ok(&app);
    crate::assert_contains(&log, " + blacklodge-private==1.0.0\n");
    crate::assert_contains(&image.shell_ok("python app.py"), "private-ok");
    crate::assert_secret_kept_out(&image, &log, SECRET);

    let wrong = "wrong-Password-7";
    let log = crate::Image::new(&format!("{name}-wrong"))
        .credentials(user_variable, password_variable, wrong)
        .build_fails(&app);
    crate::assert_credentials_rejected(&log, lock_file, wrong);
    log
}

impl PrivateIndex {
    /// An index behind basic auth with [`USER`] and [`SECRET`], on `port` (a free one when
    /// `None`).
    #[must_use]
    pub fn with_secret(port: Option<u16>) -> Self {
        Self::start(&Options {
            credentials: Some((USER.into(), SECRET.into())),
            port,
            ..Options::default()
        })
    }

    #[must_use]
    pub fn start(options: &Options) -> Self {
        let port = options.port.unwrap_or_else(crate::free_port);
        let held = crate::hold_fixture_port(port);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/deps-index/server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((user, password)) = &options.credentials {
            command.args(["--user", user, "--password", password]);
        }
        if let Some((cert, key)) = &options.tls {
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let mut child = command.spawn().expect("python3 runs the index server");
        // Generous: the machine may be busy with parallel builds.
        let deadline = Instant::now() + Duration::from_mins(1);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the private index on {port} exited: {status} (port in use?)");
            }
            assert!(
                Instant::now() < deadline,
                "the private index did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            port,
            scheme: if options.tls.is_some() {
                "https"
            } else {
                "http"
            },
            child,
            _port: held,
        }
    }

    /// The simple index URL, with `user:password@` when given.
    #[must_use]
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        let auth = credentials
            .map(|(user, password)| format!("{user}:{password}@"))
            .unwrap_or_default();
        format!("{}://{auth}127.0.0.1:{}/simple", self.scheme, self.port)
    }
}

impl Drop for PrivateIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl), in `dir`:
/// returns (ca.pem, cert.pem, key.pem).
#[must_use]
pub fn make_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Blacklodge Test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs_err::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// A `ca-certificates` binding holding `ca` (PEM), readable by the build user (uid 1000): mount
/// it with `Image::volume(&format!("{}:/platform/bindings/<name>:ro", dir.path().display()))`.
#[must_use]
pub fn ca_binding(ca: &Path) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let binding = tempfile::tempdir().expect("tempdir");
    fs_err::write(binding.path().join("type"), "ca-certificates\n").expect("write");
    fs_err::copy(ca, binding.path().join("test-ca.pem")).expect("copy");
    for (path, mode) in [
        (binding.path().to_path_buf(), 0o755),
        (binding.path().join("type"), 0o644),
        (binding.path().join("test-ca.pem"), 0o644),
    ] {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    binding
}
