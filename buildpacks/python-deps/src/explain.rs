//! Explaining an installer's failure (pip or uv): recognise the cause in its output and say
//! what to do. The order matters: a refused connection also ends in "no matching
//! distribution", so reachability and credentials are checked before resolution.

use crate::tool::redact;

/// What went wrong while installing, as far as the installer's output tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// uv could not fetch a git dependency (unreachable, refused, or the commit is gone).
    Git {
        detail: String,
    },
    /// The build's Python is outside the project's `requires-python` (uv refuses the
    /// interpreter, pip the project): what overriding the app's files with
    /// `BP_PYTHON_VERSION` leads to.
    PythonExcluded {
        line: String,
    },
    /// The index rejected the credentials (HTTP 401/403).
    Credentials {
        line: String,
    },
    /// TLS verification failed: an intercepting proxy or private index with an unknown CA.
    Certificate {
        line: String,
    },
    /// The index could not be reached at all.
    Unreachable {
        line: String,
    },
    /// A downloaded file does not have the hash the lock or requirements pin.
    HashMismatch {
        detail: String,
    },
    /// Hash-checking mode, and a requirement (or a dependency) without a pin or a hash.
    HashRequired {
        line: String,
    },
    /// A source distribution had to be compiled and that failed.
    Compile {
        package: Option<String>,
        /// The Debian package that provides what was missing, when recognised.
        system_package: Option<(&'static str, &'static str)>,
        detail: String,
    },
    /// A requirements line that cannot be parsed.
    InvalidLine {
        line: String,
    },
    /// A requirement no file on the index satisfies.
    NotFound {
        line: String,
    },
    /// The requirements contradict each other.
    Conflict {
        detail: String,
    },
    /// uv: the lock does not match pyproject.toml.
    LockOutOfSync {
        line: String,
    },
    Unknown {
        detail: String,
    },
}

/// The last `count` lines of `output`.
#[must_use]
pub fn tail(output: &str, count: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

fn find_line<'a>(output: &'a str, needles: &[&str]) -> Option<&'a str> {
    output
        .lines()
        .find(|line| needles.iter().any(|needle| line.contains(needle)))
        .map(str::trim)
}

/// The line with the first of `needles` (in their order) that occurs: the most specific.
fn find_most_specific<'a>(output: &'a str, needles: &[&str]) -> Option<&'a str> {
    needles
        .iter()
        .find_map(|needle| find_line(output, &[needle]))
}

/// A line of the installer's output without the error-chain decoration uv puts in front
/// (`error: `, `cause: `, and the `×`/`╰─▶` of its coloured form).
fn clean(line: &str) -> &str {
    let mut line = line.trim();
    for prefix in ["error: ", "cause: ", "× ", "╰─▶ ", "├─▶ "] {
        line = line.strip_prefix(prefix).unwrap_or(line).trim_start();
    }
    line
}

/// Whether `line` is one of uv's diagnostics (`RUST_LOG`): `TRACE …` or `DEBUG …`.
#[must_use]
pub fn is_diagnostic(line: &str) -> bool {
    line.starts_with("TRACE ") || line.starts_with("DEBUG ")
}

/// `(status, url)` when `line` is uv's diagnostic of an index answering 401 or 403:
/// `TRACE Received response for fresh request with status 401 Unauthorized for: <url>`.
#[must_use]
pub fn rejected_status(line: &str) -> Option<(&str, &str)> {
    let rest = line.split(" with status ").nth(1)?;
    let (status, url) = rest.split_once(" for: ")?;
    (status.starts_with("401") || status.starts_with("403")).then(|| (status.trim(), url.trim()))
}

/// The indexes that refused access, from the diagnostics kept with the output: one line per
/// index and status (`http://host/simple/ answered 401 Unauthorized (3 requests)`), the
/// index being the URL without its last part (the project page or file).
fn rejections(diagnostics: &[&str]) -> Vec<String> {
    let mut found: Vec<(String, &str, usize)> = Vec::new();
    for (status, url) in diagnostics.iter().filter_map(|line| rejected_status(line)) {
        let trimmed = url.trim_end_matches('/');
        let index = trimmed
            .rfind('/')
            .map_or(url, |slash| &trimmed[..=slash])
            .to_string();
        match found
            .iter_mut()
            .find(|(known, known_status, _)| *known == index && *known_status == status)
        {
            Some((_, _, count)) => *count += 1,
            None => found.push((index, status, 1)),
        }
    }
    found
        .into_iter()
        .map(|(index, status, count)| match count {
            1 => format!("{index} answered {status}"),
            _ => format!("{index} answered {status} ({count} requests)"),
        })
        .collect()
}

/// Headers and helper programs sdists commonly need, with the Debian package providing them.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("pg_config", "libpq-dev"),
    ("libpq-fe.h", "libpq-dev"),
    ("mysql_config", "default-libmysqlclient-dev"),
    ("mysql.h", "default-libmysqlclient-dev"),
    ("libxml/", "libxml2-dev"),
    ("libxslt/", "libxslt1-dev"),
    ("yaml.h", "libyaml-dev"),
    ("krb5", "libkrb5-dev"),
    ("gssapi", "libkrb5-dev"),
    ("lber.h", "libldap2-dev"),
    ("ldap.h", "libldap2-dev"),
    ("sasl/sasl.h", "libsasl2-dev"),
    ("jpeglib.h", "libjpeg-dev"),
    ("cairo.h", "libcairo2-dev"),
    ("gmp.h", "libgmp-dev"),
    ("hdf5.h", "libhdf5-dev"),
    ("cargo", "cargo (Rust toolchain)"),
    ("rustc", "rustc (Rust toolchain)"),
];

fn failed_package(output: &str) -> Option<String> {
    for line in output.lines() {
        // uv: "Failed to build `psycopg2==2.9.10`"; pip: "Failed to build psycopg2" or
        // "Building wheel for x (pyproject.toml) did not run successfully".
        if let Some(rest) = line.split("Failed to build ").nth(1) {
            let name = rest.trim().trim_start_matches(['`', '\'']);
            let name = name.split(['`', '\'', ' ', ':']).next().unwrap_or(name);
            if !name.is_empty() && !name.starts_with("installable") {
                return Some(name.to_string());
            }
        }
        if let Some(rest) = line.split("Building wheel for ").nth(1)
            && line.contains("did not run successfully")
        {
            return rest.split_whitespace().next().map(str::to_string);
        }
    }
    for line in output.lines() {
        // pip (metadata step): "× Getting requirements to build wheel did not run successfully."
        // is preceded by "Collecting psycopg2==2.9.10" lines; the last collected one failed.
        if line.contains("did not run successfully") {
            return output
                .lines()
                .take_while(|l| !l.contains("did not run successfully"))
                .filter_map(|l| l.trim().strip_prefix("Collecting "))
                .last()
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string);
        }
    }
    None
}

/// The lines of a failed build that say what was missing (a header, a program, a file).
fn missing_evidence(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| {
            line.contains("fatal error:")
                || line.contains("not found")
                || line.contains("No such file")
                || line.contains("could not find")
        })
        .map(str::trim)
        .collect()
}

fn missing_system_package(output: &str) -> Option<(&'static str, &'static str)> {
    let evidence = missing_evidence(output);
    SYSTEM_PACKAGES
        .iter()
        .copied()
        .find(|(needle, _)| evidence.iter().any(|line| line.contains(needle)))
}

/// What to quote of a failed build: the installer's line naming the failed step and the
/// lines saying what was missing, when there are such lines (a build's output ends with
/// advice and hints rather than the cause); otherwise the end of the output. The whole
/// output is in the build log above the error.
fn compile_detail(output: &str) -> String {
    let evidence = missing_evidence(output);
    if evidence.is_empty() {
        return tail(output, 12);
    }
    let step = find_line(output, &["Failed to build", "did not run successfully"]).map(clean);
    step.into_iter()
        .chain(evidence.into_iter().take(3))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the installer's output. One ordered list of checks: long, but read top to bottom.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn cause(output: &str) -> Cause {
    let redacted = redact(output);
    let (diagnostics, messages): (Vec<&str>, Vec<&str>) =
        redacted.lines().partition(|line| is_diagnostic(line));
    let output = &messages.join("\n");
    // Checked first: git's own messages (connection, authentication, TLS) are about the
    // repository, not a package index.
    if output.contains("Git operation failed") {
        return Cause::Git {
            detail: tail(output, 8),
        };
    }
    // pip runs git itself: `git clone …` (or fetch, checkout) "did not run successfully",
    // with git's own `fatal:` lines saying why.
    if let Some(step) = output
        .lines()
        .map(clean)
        .find(|line| line.starts_with("git ") && line.contains("did not run successfully"))
    {
        let fatal = output
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("fatal:"));
        return Cause::Git {
            detail: std::iter::once(step)
                .chain(fatal)
                .collect::<Vec<_>>()
                .join("\n"),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "which is incompatible with the project's Python requirement",
            "which is incompatible with the workspace's Python requirement",
            "requires a different Python:",
        ],
    ) {
        return Cause::PythonExcluded {
            line: clean(line).trim_start_matches("ERROR: ").to_string(),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "401 Unauthorized",
            "403 Forbidden",
            "401 Error",
            "403 Error",
            "Credentials not correct",
            "lack of valid authentication credentials",
            "Missing credentials",
        ],
    ) {
        return Cause::Credentials {
            line: line.to_string(),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "CERTIFICATE_VERIFY_FAILED",
            "invalid peer certificate",
            "UnknownIssuer",
            "certificate verify failed",
        ],
    ) {
        return Cause::Certificate {
            line: line.to_string(),
        };
    }
    if let Some(line) = find_most_specific(
        output,
        &[
            "Connection refused",
            "Failed to establish a new connection",
            "Temporary failure in name resolution",
            "Name or service not known",
            "Network is unreachable",
            "dns error",
            "tcp connect error",
            "Could not fetch URL",
            "error sending request",
        ],
    ) {
        // uv names the URL on an earlier line of the chain ("Failed to fetch: `…`").
        let line = match find_line(output, &["Failed to fetch"]) {
            Some(fetch) if !line.contains("://") => format!("{}\n{}", clean(fetch), clean(line)),
            _ => clean(line).to_string(),
        };
        return Cause::Unreachable { line };
    }
    if let Some(line) = find_line(
        output,
        &["needs to be updated, but `--locked` was provided"],
    ) {
        return Cause::LockOutOfSync {
            line: line.to_string(),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "In `--require-hashes` mode",
            "Hash-checking is required, but",
            "Hashes are required in --require-hashes mode",
            "In --require-hashes mode, all requirements must have their versions pinned",
        ],
    ) {
        return Cause::HashRequired {
            line: clean(line).to_string(),
        };
    }
    if output.contains("DO NOT MATCH THE HASHES") || output.contains("Hash mismatch") {
        return Cause::HashMismatch {
            detail: tail(output, 8),
        };
    }
    if output.contains("Failed to build")
        || output.contains("fatal error:")
        || output.contains("did not run successfully")
    {
        return Cause::Compile {
            package: failed_package(output),
            system_package: missing_system_package(output),
            detail: compile_detail(output),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "Invalid requirement",
            "Couldn't parse requirement in",
            "expected '-c', '-e', '-r' or the start of a requirement",
            "Expected `--hash`, found",
            "cannot be editable",
        ],
    ) {
        return Cause::InvalidLine {
            line: with_explanation(output, line),
        };
    }
    if let Some(line) = find_line(
        output,
        &[
            "No matching distribution found for",
            "not found in the package registry",
            "was not found in the provided package locations",
            "no versions of",
            "there is no version of",
        ],
    ) {
        return not_resolved(
            &diagnostics,
            Cause::NotFound {
                line: clean(line).to_string(),
            },
        );
    }
    if output.contains("ResolutionImpossible")
        || output.contains("conflicting dependencies")
        || output.contains("No solution found when resolving")
    {
        return not_resolved(
            &diagnostics,
            Cause::Conflict {
                detail: tail(output, 12),
            },
        );
    }
    Cause::Unknown {
        detail: tail(output, 15),
    }
}

/// `line` and the indented lines that explain it (uv's causes, the offending text), without
/// the caret lines that point into it (their alignment is lost in the message).
fn with_explanation(output: &str, line: &str) -> String {
    let mut lines = output
        .lines()
        .skip_while(|candidate| candidate.trim() != line);
    let mut found = vec![clean(line)];
    found.extend(
        lines
            .by_ref()
            .skip(1)
            .take_while(|next| next.starts_with(' '))
            .map(clean)
            .filter(|next| !next.is_empty() && !next.chars().all(|c| c == '^'))
            .take(3),
    );
    found.join("\n")
}

/// A resolution that failed while an index refused access: the refusal is the likely cause
/// (uv looked for the packages elsewhere and reports them as missing).
fn not_resolved(diagnostics: &[&str], resolution: Cause) -> Cause {
    let refused = rejections(diagnostics);
    if refused.is_empty() {
        return resolution;
    }
    let (Cause::NotFound { line: outcome } | Cause::Conflict { detail: outcome }) = resolution
    else {
        return resolution;
    };
    Cause::Credentials {
        line: format!(
            "{}\nuv then looked for the packages on the other indexes only:\n{outcome}",
            refused.join("\n")
        ),
    }
}

/// The detail and fix for a failed install of `source` (e.g. `requirements.txt`,
/// `poetry.lock`), with `lock_fix` the command that regenerates the lock.
#[must_use]
pub fn install_failure(output: &str, source: &str, lock_fix: &str) -> (String, String) {
    explanation(cause(output), source, lock_fix)
}

/// The detail and fix for `cause` of a failed install of `source` (see [`install_failure`]).
#[must_use]
pub fn explanation(cause: Cause, source: &str, lock_fix: &str) -> (String, String) {
    match cause {
        Cause::Git { detail } => (
            format!("A git dependency of {source} could not be fetched:\n{detail}"),
            format!("Check that the repository URL in {source} is reachable from the build (network, TLS: a `ca-certificates` binding is given to git too) and that the locked commit still exists there (a force-push can remove it: then run `{lock_fix}` again)."),
        ),
        Cause::PythonExcluded { line } => (
            format!("The build's Python is outside what the project accepts (its requires-python):\n{line}\nBP_PYTHON_VERSION chooses the Python over the app's own files (the Python buildpack warns above when they disagree), and the project refuses it."),
            format!("Either build with a Python the project accepts (unset BP_PYTHON_VERSION, or set it to a version requires-python includes), or widen requires-python in pyproject.toml to include this version, then run `{lock_fix}` and commit {source}."),
        ),
        Cause::Credentials { line } => (
            format!("The package index rejected the credentials:\n{line}"),
            "Check the user name and password (or token) given to the build: PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / UV_INDEX_<NAME>_USERNAME and _PASSWORD / POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD, or a netrc file. They are used at build time only.".to_string(),
        ),
        Cause::Certificate { line } => (
            format!("The package index's TLS certificate is not trusted:\n{line}"),
            "Behind a TLS-intercepting proxy or with a private CA, provide the CA certificate as a binding of type `ca-certificates` (`pack build --volume <dir>:/platform/bindings/ca:ro`, where <dir> holds a `type` file containing `ca-certificates` and the PEM file), or add it to the build image trust store.".to_string(),
        ),
        Cause::Unreachable { line } => (
            format!("The package index could not be reached:\n{line}"),
            "Check the index URL (PIP_INDEX_URL, UV_DEFAULT_INDEX, the lock's sources) and the build's network. For builds without network, vendor the wheels (see docs/dependencies.md, offline builds).".to_string(),
        ),
        Cause::HashMismatch { detail } => (
            format!("A downloaded file does not have the hash {source} pins:\n{detail}"),
            format!("If the package really changed on the index, regenerate the hashes ({lock_fix}); otherwise your index or proxy serves a different file than the one pinned."),
        ),
        Cause::HashRequired { line } => (
            format!("{source} is in hash-checking mode, where every requirement, dependencies included, must be pinned with == and carry --hash:\n{line}"),
            format!("Add the missing requirements with their hashes (regenerate the file with `{lock_fix}`), or remove every --hash to install without hash checking."),
        ),
        Cause::Compile { package, system_package, detail } => {
            let which = package.map_or_else(|| "A package".to_string(), |name| format!("The package {name}"));
            let fix = match system_package {
                Some((needle, debian)) => format!("It needs `{needle}`, which the build image lacks: add the Debian package {debian} to the build image (and its runtime library to the run image), or pin a version that publishes a wheel for this Python and Linux (manylinux x86_64)."),
                None => "Pin a version that publishes a wheel for this Python and Linux (manylinux x86_64), or add the missing compiler, headers or libraries to the build image (the error above names them).".to_string(),
            };
            (
                format!("{which} has no wheel for this Python and had to be built from source, which failed:\n{detail}"),
                fix,
            )
        }
        Cause::InvalidLine { line } => (
            format!("{source} has a line the installer cannot read:\n{line}"),
            "Fix that line: each line is a requirement such as `flask==3.0.3`, an option such as `-r other.txt`, or a comment.".to_string(),
        ),
        Cause::NotFound { line } => (
            format!("A requirement cannot be satisfied by the package index:\n{line}"),
            format!("Check that the package name and version exist on your index (and support this Python version), then fix {source}."),
        ),
        Cause::Conflict { detail } => (
            format!("The requirements conflict with each other:\n{detail}"),
            "Relax or align the versions listed above so one set satisfies every requirement.".to_string(),
        ),
        Cause::LockOutOfSync { line } => (
            format!("{source} does not match pyproject.toml:\n{line}"),
            format!("Run `{lock_fix}` and commit the updated {source}. The build installs exactly the locked versions and never re-locks."),
        ),
        Cause::Unknown { detail } => (
            format!("The installer failed. Its last lines:\n{detail}"),
            format!("Read the installer's output above; usually {source} needs fixing."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_connection_is_not_reported_as_missing_package() {
        let output = "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno 111] Connection refused')': /simple/flask/\nERROR: Could not find a version that satisfies the requirement flask\nERROR: No matching distribution found for flask\n";
        assert!(matches!(cause(output), Cause::Unreachable { .. }));
    }

    #[test]
    fn git_failures_of_pip_are_git_failures_not_compile_failures() {
        let output = "Collecting greeter@ git+http://127.0.0.1:1/greeter.git@main\n  Cloning http://127.0.0.1:1/greeter.git (to revision main) to /tmp/pip-req-build-x\n  Running command git clone --filter=blob:none --quiet http://127.0.0.1:1/greeter.git /tmp/pip-req-build-x\n  fatal: unable to access 'http://127.0.0.1:1/greeter.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server\n  error: subprocess-exited-with-error\n\n  × git clone --filter=blob:none --quiet http://127.0.0.1:1/greeter.git /tmp/pip-req-build-x did not run successfully.\n  │ exit code: 128\n  ╰─> See above for output.\n";
        assert_eq!(
            cause(output),
            Cause::Git {
                detail: "git clone --filter=blob:none --quiet http://127.0.0.1:1/greeter.git /tmp/pip-req-build-x did not run successfully.\nfatal: unable to access 'http://127.0.0.1:1/greeter.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server".into()
            }
        );
    }

    #[test]
    fn a_python_outside_requires_python_is_named() {
        let uv = "Using CPython 3.13.5 interpreter at: /layers/blacklodge_python/python/bin/python3\nerror: The requested interpreter resolved to Python 3.13.5, which is incompatible with the project's Python requirement: `==3.11.*`\n";
        assert_eq!(
            cause(uv),
            Cause::PythonExcluded {
                line: "The requested interpreter resolved to Python 3.13.5, which is incompatible with the project's Python requirement: `==3.11.*`".into()
            }
        );
        let pip = "Processing /workspace\nERROR: Package 'svc' requires a different Python: 3.13.5 not in '<3.12,>=3.11'\n";
        assert_eq!(
            cause(pip),
            Cause::PythonExcluded {
                line: "Package 'svc' requires a different Python: 3.13.5 not in '<3.12,>=3.11'"
                    .into()
            }
        );
        let (detail, fix) = explanation(
            Cause::PythonExcluded { line: "L".into() },
            "uv.lock",
            "uv lock",
        );
        assert_eq!(
            detail,
            "The build's Python is outside what the project accepts (its requires-python):\nL\nBP_PYTHON_VERSION chooses the Python over the app's own files (the Python buildpack warns above when they disagree), and the project refuses it."
        );
        assert_eq!(
            fix,
            "Either build with a Python the project accepts (unset BP_PYTHON_VERSION, or set it to a version requires-python includes), or widen requires-python in pyproject.toml to include this version, then run `uv lock` and commit uv.lock."
        );
    }

    #[test]
    fn credentials_are_recognised_and_redacted() {
        let output = "  × Failed to fetch: `http://user:pw@127.0.0.1:1/simple/x/`\n  ╰─▶ HTTP status client error (401 Unauthorized) for url (http://user:pw@127.0.0.1:1/simple/x/)\n";
        let Cause::Credentials { line } = cause(output) else {
            panic!("credentials");
        };
        assert!(!line.contains("pw"), "{line}");
    }

    #[test]
    fn compile_failures_name_package_and_system_package() {
        let output = "Collecting psycopg2==2.9.10\n  error: subprocess-exited-with-error\n  × Getting requirements to build wheel did not run successfully.\n  Error: pg_config executable not found.\n";
        assert_eq!(
            cause(output),
            Cause::Compile {
                package: Some("psycopg2==2.9.10".into()),
                system_package: Some(("pg_config", "libpq-dev")),
                detail: "Getting requirements to build wheel did not run successfully.\nError: pg_config executable not found.".into(),
            }
        );
        let pip26 =
            "      ERROR: Failed to build 'psycopg2' when getting requirements to build wheel\n";
        let Cause::Compile { package, .. } = cause(pip26) else {
            panic!("compile");
        };
        assert_eq!(package.as_deref(), Some("psycopg2"));
        let uv = "  × Failed to build `psycopg2==2.9.10`\n  ├─▶ The build backend returned an error\n      Error: pg_config executable not found.\n";
        let Cause::Compile { package, .. } = cause(uv) else {
            panic!("compile");
        };
        assert_eq!(package.as_deref(), Some("psycopg2==2.9.10"));
    }

    #[test]
    fn git_failures_are_about_the_repository() {
        let output = "error: Failed to download and build `greeter @ git+http://127.0.0.1:9/greeter.git@7f4d427c893d80b226165f14b8ac7f6667245e8c`\n  cause: Git operation failed\n  cause: failed to fetch commit `7f4d427c893d80b226165f14b8ac7f6667245e8c`\n         fatal: unable to access 'http://127.0.0.1:9/greeter.git/': Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server\n";
        let (detail, fix) = install_failure(output, "poetry.lock", "poetry lock");
        assert!(detail.starts_with("A git dependency of poetry.lock could not be fetched:"));
        assert!(detail.contains("Couldn't connect to server"), "{detail}");
        assert!(fix.contains("locked commit still exists"), "{fix}");
    }

    #[test]
    fn uv_lock_mismatch() {
        let (detail, fix) = install_failure(
            "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. To update the lockfile, run `uv lock`.\n",
            "uv.lock",
            "uv lock",
        );
        assert!(detail.starts_with("uv.lock does not match pyproject.toml:"));
        assert!(fix.starts_with("Run `uv lock` and commit"));
    }

    #[test]
    fn pip_invalid_line_and_missing_package() {
        let (detail, _) = install_failure(
            "ERROR: Invalid requirement: 'flask=>3': Expected end or semicolon (from line 2 of requirements.txt)\n",
            "requirements.txt",
            "",
        );
        assert!(detail.ends_with("(from line 2 of requirements.txt)"));
        let (detail, _) = install_failure(
            "ERROR: No matching distribution found for nopenope==1.0\n",
            "requirements.txt",
            "",
        );
        assert_eq!(
            detail,
            "A requirement cannot be satisfied by the package index:\nERROR: No matching distribution found for nopenope==1.0"
        );
    }

    // The outputs below are uv 0.13.9's (`uv pip install -r requirements.txt` with NO_COLOR
    // and `uv::STATUS_TRACE`), captured from real runs.

    #[test]
    fn uv_missing_package_and_version() {
        let output = "Using Python 3.11.2 environment at: /layers/blacklodge_pip/venv\nerror: No solution found when resolving dependencies\n  cause: Because blacklodge-no-such-package-xyz was not found in the package registry and you require blacklodge-no-such-package-xyz==1.0, we can conclude that your requirements are unsatisfiable.\n";
        let (detail, fix) = install_failure(output, "requirements.txt", "");
        assert_eq!(
            detail,
            "A requirement cannot be satisfied by the package index:\nBecause blacklodge-no-such-package-xyz was not found in the package registry and you require blacklodge-no-such-package-xyz==1.0, we can conclude that your requirements are unsatisfiable."
        );
        assert!(fix.contains("then fix requirements.txt"), "{fix}");
        let output = "error: No solution found when resolving dependencies\n  cause: Because there is no version of flask==99.0 and you require flask==99.0, we can conclude that your requirements are unsatisfiable.\n";
        assert_eq!(
            cause(output),
            Cause::NotFound {
                line: "Because there is no version of flask==99.0 and you require flask==99.0, we can conclude that your requirements are unsatisfiable.".into()
            }
        );
    }

    #[test]
    fn uv_conflict() {
        let output = "error: No solution found when resolving dependencies\n  cause: Because flask==3.1.2 depends on werkzeug>=3.1.0 and you require flask==3.1.2, we can conclude that you require werkzeug>=3.1.0.\n         And because you require werkzeug==2.0.0, we can conclude that your requirements are unsatisfiable.\n";
        let (detail, _) = install_failure(output, "requirements.txt", "");
        assert!(
            detail.starts_with("The requirements conflict with each other:\n"),
            "{detail}"
        );
        assert!(detail.contains("you require werkzeug==2.0.0"), "{detail}");
    }

    #[test]
    fn uv_unparsable_lines() {
        let output = "error: Couldn't parse requirement in `requirements.txt` at position 13\n  cause: no such comparison operator \"=>\", must be one of ~= == != <= >= < > ===\n         flask=>3\n              ^^^\n";
        assert_eq!(
            cause(output),
            Cause::InvalidLine {
                line: "Couldn't parse requirement in `requirements.txt` at position 13\nno such comparison operator \"=>\", must be one of ~= == != <= >= < > ===\nflask=>3".into()
            }
        );
        let output = "error: Error parsing included file in `requirements.txt` at position 0\n  cause: Unexpected '-', expected '-c', '-e', '-r' or the start of a requirement: sub/base.txt:2:1\n";
        assert_eq!(
            cause(output),
            Cause::InvalidLine {
                line: "Unexpected '-', expected '-c', '-e', '-r' or the start of a requirement: sub/base.txt:2:1".into()
            }
        );
    }

    #[test]
    fn uv_hash_checking_mode() {
        for (output, line) in [
            (
                "error: In `--require-hashes` mode, all requirements must have a hash, but none were provided for: idna==3.10\n",
                "In `--require-hashes` mode, all requirements must have a hash, but none were provided for: idna==3.10",
            ),
            (
                "error: In `--require-hashes` mode, all requirements must have their versions pinned with `==`, but found: idna\n",
                "In `--require-hashes` mode, all requirements must have their versions pinned with `==`, but found: idna",
            ),
            (
                "error: Hash-checking is required, but no trusted hash was provided for: `charset-normalizer`\n",
                "Hash-checking is required, but no trusted hash was provided for: `charset-normalizer`",
            ),
        ] {
            assert_eq!(cause(output), Cause::HashRequired { line: line.into() });
        }
        let (detail, fix) = install_failure(
            "error: In `--require-hashes` mode, all requirements must have a hash, but none were provided for: idna==3.10\n",
            "requirements.txt",
            "pip-compile --generate-hashes",
        );
        assert!(
            detail.starts_with("requirements.txt is in hash-checking mode, where every requirement, dependencies included, must be pinned with == and carry --hash:\n"),
            "{detail}"
        );
        assert!(fix.contains("`pip-compile --generate-hashes`"), "{fix}");
    }

    #[test]
    fn uv_unreachable_index_names_the_url() {
        let output = "error: Request failed after 3 retries in 8.2s\n  cause: Failed to fetch: http://127.0.0.1:9/simple/flask/\n  cause: error sending request for url (http://127.0.0.1:9/simple/flask/)\n  cause: client error (Connect)\n  cause: tcp connect error\n  cause: Connection refused (os error 111)\n";
        assert_eq!(
            cause(output),
            Cause::Unreachable {
                line: "Failed to fetch: http://127.0.0.1:9/simple/flask/\nConnection refused (os error 111)".into()
            }
        );
    }

    #[test]
    fn uv_index_refusing_the_credentials_is_named_not_the_missing_package() {
        // unsafe-best-match: uv reads a 401 as "no such package" and says only that.
        let output = "TRACE Received response for fresh request with status 401 Unauthorized for: http://127.0.0.1:38999/simple/blacklodge-private/\nTRACE Received response for fresh request with status 401 Unauthorized for: http://127.0.0.1:38999/simple/six/\nerror: No solution found when resolving dependencies\n  cause: Because blacklodge-private was not found in the package registry and you require blacklodge-private==1.0.0, we can conclude that your requirements are unsatisfiable.\n";
        let (detail, _) = install_failure(output, "requirements.txt", "");
        assert_eq!(
            detail,
            "The package index rejected the credentials:\nhttp://127.0.0.1:38999/simple/ answered 401 Unauthorized (2 requests)\nuv then looked for the packages on the other indexes only:\nBecause blacklodge-private was not found in the package registry and you require blacklodge-private==1.0.0, we can conclude that your requirements are unsatisfiable."
        );
        // The same refusal next to a failure that is not about resolution is not blamed.
        let output = "TRACE Received response for fresh request with status 403 Forbidden for: http://127.0.0.1:38999/simple/six/\nerror: Failed to build `psycopg2==2.9.10`\n  cause: The build backend returned an error\n";
        assert!(matches!(cause(output), Cause::Compile { .. }));
    }

    #[test]
    fn uv_first_index_hint_names_the_credentials() {
        let output = "error: No solution found when resolving dependencies\n  cause: Because six was not found in the package registry and you require six==1.17.0, we can conclude that your requirements are unsatisfiable.\n\nhint: An index URL (http://127.0.0.1:38999/simple) could not be queried due to a lack of valid authentication credentials (401 Unauthorized)\n";
        assert!(matches!(cause(output), Cause::Credentials { .. }));
    }

    #[test]
    fn uv_build_failure_quotes_what_was_missing() {
        // The start and end of uv's output for psycopg2 in the build image (no pg_config).
        let output = "Resolved 1 package in 346ms\n   Building psycopg2==2.9.10\nerror: Failed to build `psycopg2==2.9.10`\n  cause: The build backend returned an error\n  cause: Call to `setuptools.build_meta:__legacy__.get_requires_for_build_wheel` failed (exit status: 1)\n\n         [stdout]\n         running egg_info\n\n         [stderr]\n         Error: pg_config executable not found.\n\n         pg_config is required to build psycopg2 from source.  Please add the directory\n         containing pg_config to the $PATH or specify the full executable path with the\n         option:\n\n             python setup.py build_ext --pg-config /path/to/pg_config build ...\n\nhint: Build failures usually indicate a problem with the package or the build environment\n";
        let (detail, fix) = install_failure(output, "requirements.txt", "");
        assert_eq!(
            detail,
            "The package psycopg2==2.9.10 has no wheel for this Python and had to be built from source, which failed:\nFailed to build `psycopg2==2.9.10`\nError: pg_config executable not found."
        );
        assert!(
            fix.starts_with("It needs `pg_config`, which the build image lacks: add the Debian package libpq-dev to the build image"),
            "{fix}"
        );
    }
}
