//! A git repository served on loopback for git dependencies in locks: a fixture directory
//! committed with fixed author, committer and dates (so its commit id is the one the fixture
//! locks record) and served over HTTP with git's "dumb" protocol (static files after
//! `git update-server-info`, by the host's python3), which the git that uv runs fetches from
//! like from any HTTP remote; or over HTTPS with a given certificate ([`GitRemote::start_tls`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct GitRemote {
    pub port: u16,
    scheme: &'static str,
    /// The commit id of the served branch `main`.
    pub commit: String,
    name: String,
    child: Child,
    _dir: tempfile::TempDir,
    /// A fixed fixture port is held while the server runs (see `crate::hold_fixture_port`).
    _port: Option<std::fs::File>,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Blacklodge")
        .env("GIT_AUTHOR_EMAIL", "tests@blacklodge.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_NAME", "Blacklodge")
        .env("GIT_COMMITTER_EMAIL", "tests@blacklodge.invalid")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl GitRemote {
    /// Commits `tests/fixtures/<fixture>` as `<name>.git` (branch `main`, message
    /// `<name>`) and serves it on `port`.
    #[must_use]
    pub fn start(fixture: &str, name: &str, port: u16) -> Self {
        Self::serve(fixture, name, port, None)
    }

    /// Like [`GitRemote::start`], served over HTTPS with `cert` and `key` (PEM).
    #[must_use]
    pub fn start_tls(fixture: &str, name: &str, port: u16, cert: &Path, key: &Path) -> Self {
        Self::serve(fixture, name, port, Some((cert, key)))
    }

    fn serve(fixture: &str, name: &str, port: u16, tls: Option<(&Path, &Path)>) -> Self {
        let held = crate::hold_fixture_port(port);
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture);
        let dir = tempfile::tempdir().expect("temporary directory");
        let work = dir.path().join("work");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&source)
            .arg(&work)
            .status()
            .expect("cp runs");
        assert!(status.success(), "copying {}", source.display());
        git(&work, &["init", "--quiet", "--initial-branch=main", "."]);
        git(&work, &["add", "--all"]);
        git(
            &work,
            &[
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "-m",
                name,
            ],
        );
        let commit = git(&work, &["rev-parse", "HEAD"]);
        let served = dir.path().join("served");
        fs_err::create_dir_all(&served).expect("mkdir");
        let bare = format!("{name}.git");
        git(
            dir.path(),
            &[
                "clone",
                "--quiet",
                "--bare",
                "work",
                &format!("served/{bare}"),
            ],
        );
        git(&served.join(&bare), &["update-server-info"]);
        let mut command = Command::new("python3");
        match tls {
            None => command.args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ]),
            Some((cert, key)) => command
                .args(["-c", HTTPS_SERVER, &port.to_string()])
                .arg(cert)
                .arg(key),
        };
        let mut child = command
            .current_dir(&served)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves the repository");
        let deadline = Instant::now() + Duration::from_mins(1);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the git remote on {port} exited: {status} (port in use?)");
            }
            assert!(
                Instant::now() < deadline,
                "the git remote did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            port,
            scheme: if tls.is_some() { "https" } else { "http" },
            commit,
            name: name.to_string(),
            child,
            _dir: dir,
            _port: held,
        }
    }

    /// `http://127.0.0.1:<port>/<name>.git` (`https://` when served over TLS)
    #[must_use]
    pub fn url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}/{}.git",
            self.scheme, self.port, self.name
        )
    }
}

/// The working directory's files over HTTPS on 127.0.0.1: `python3 -c HTTPS_SERVER <port>
/// <cert.pem> <key.pem>`.
const HTTPS_SERVER: &str = "\
import http.server, ssl, sys
server = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";

impl Drop for GitRemote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The commit of `tests/fixtures/git-greeter` as [`GitRemote::start`] commits it (fixed author
/// and dates): the Poetry and Pipenv fixture locks pin it.
pub const GREETER_COMMIT: &str = "7f4d427c893d80b226165f14b8ac7f6667245e8c";

/// The servers the `*-sources` fixture locks point at: the private index's file server on
/// port 38772 (URL dependencies) and the `greeter` git repository on port 38773.
pub struct SourceServers {
    pub index: crate::private_index::PrivateIndex,
    pub greeter: GitRemote,
}

impl SourceServers {
    #[must_use]
    pub fn start() -> Self {
        let index = crate::private_index::PrivateIndex::start(&crate::private_index::Options {
            port: Some(38772),
            ..crate::private_index::Options::default()
        });
        let greeter = GitRemote::start("git-greeter", "greeter", 38773);
        assert_eq!(
            greeter.commit, GREETER_COMMIT,
            "the fixture locks pin this commit"
        );
        Self { index, greeter }
    }
}
