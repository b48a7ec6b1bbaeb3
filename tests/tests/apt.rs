//! The OS packages buildpack through pack, the real lifecycle and Debian's archive (reached
//! through the host's proxy).

use blacklodge_tests::{App, Image, assert_contains, assert_not_contains};
use std::process::Command;

const LAYER: &str = "/layers/blacklodge_apt/packages";

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn psycopg2_sdist_compiles_against_libpq_dev_and_loads_libpq5_at_run() {
    let app = App::fixture("apt-psycopg2");
    let image = Image::new("apt-psycopg2");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "## Blacklodge OS packages\n- Installing OS packages from the Aptfile (Debian 12 (bookworm))\n  - Requested: libpq-dev\n  - Archive: https://deb.debian.org/debian\n  - Reading the signed package indices of Debian 12 (bookworm) ... done",
    );
    assert_contains(&log, "in bookworm, bookworm-updates, bookworm-security (");
    // libpq5 and the libraries it needs that the run image lacks (versions move with
    // Debian's point releases).
    assert_contains(&log, "  - Installing 6 packages: libldap-2.5-0 2.5.");
    assert_contains(&log, ", libpq-dev 15.");
    assert_contains(&log, ", libpq5 15.");
    assert_contains(&log, ", libsasl2-2 2.");
    assert_contains(&log, ", libsasl2-modules-db 2.");
    assert_contains(&log, ", libssl-dev 3.");
    assert_contains(&log, "  - Downloading 6 packages (");
    // Built from the sdist, against the layer's headers (no wheel exists for Linux).
    assert_contains(&log, "psycopg2==2.9.10");

    // At run time: the module links to the layer's libpq5, which is loaded and answers.
    let report = image.shell_ok("python3 app.py");
    assert_contains(&report, "'compiled': 15");
    assert_contains(&report, "'loaded': 15");
    let linked = image.shell_ok(
        "ldd \"$(python3 -c 'import psycopg2._psycopg as m; print(m.__file__)')\" | grep libpq",
    );
    assert_contains(
        &linked,
        &format!("libpq.so.5 => {LAYER}/usr/lib/x86_64-linux-gnu/libpq.so.5"),
    );
    // The build-only variables are not in the launch environment; the launch ones are.
    let env = image.shell_ok(
        "echo \"CPATH=${CPATH:-unset} PKG=${PKG_CONFIG_PATH:-unset}\"; echo \"$LD_LIBRARY_PATH\"",
    );
    assert_contains(&env, "CPATH=unset PKG=unset\n");
    assert_contains(&env, &format!("{LAYER}/usr/lib/x86_64-linux-gnu"));

    // The SBOM lists the Debian packages.
    let sboms = image.launch_sboms();
    let document = sboms
        .iter()
        .find(|(path, _)| path.contains("blacklodge_apt"))
        .map_or_else(
            || panic!("no SBOM of blacklodge/apt in {:?}", sboms.keys()),
            |(_, document)| document.to_string(),
        );
    assert_contains(&document, "pkg:deb/debian/libpq5@15.");
    assert_contains(&document, "pkg:deb/debian/libpq-dev@15.");

    // Unchanged: the layer is reused without reading the archive.
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Reusing 6 cached OS packages (Aptfile, release, mirrors and run image unchanged)\n",
    );
    assert_not_contains(&log, "Reading the signed package indices");

    // A package added: the layer is made again, and the reason is logged.
    app.append("Aptfile", "jq\n");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached OS packages:\n    - Aptfile changed (added jq)\n",
    );
    assert_contains(&log, "  - Downloading 3 packages (");
    assert_contains(&log, "), 6 cached ... done");
    let jq = image.shell_ok("echo '{\"a\": 41}' | jq '.a + 1' && python3 app.py");
    assert_contains(&jq, "42\n");
    assert_contains(&jq, "'loaded': 15");
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn graphviz_dot_is_on_path_in_the_container() {
    let app = App::fixture("apt-graphviz");
    let image = Image::new("apt-graphviz");
    let log = image.build_ok(&app);
    assert_contains(&log, "## Blacklodge OS packages\n");
    // libgvc6's postinst step, done in the layer; the other scripts are named in a warning.
    assert_contains(
        &log,
        "  - Graphviz's plugin configuration: ran `dot -c` (what libgvc6's postinst does)\n",
    );
    assert_contains(
        &log,
        "! WARNING: OS package scripts were not run\n!\n! These packages have maintainer scripts, which need root and are not run:\n! - fontconfig (postinst)\n! - fontconfig-config (postinst, preinst)\n! - graphviz (postinst)\n! - libglib2.0-0 (postinst)\n! - x11-common (postinst)\n! Their files are unpacked as the .deb has them; what the scripts would do\n! (users, alternatives, caches, configuration) is not done.\n! Most libraries and tools work without it. If one does not, see\n! docs/os-packages.md#maintainer-scripts.\n",
    );
    let version = image.shell_ok("command -v dot && dot -V");
    assert_contains(&version, &format!("{LAYER}/usr/bin/dot\n"));
    assert_contains(&version, "dot - graphviz version 2.43.");
    let svg = image.shell_ok("echo 'digraph { a -> b }' | dot -Tsvg");
    assert_contains(&svg, "<svg");
    assert_contains(&svg, "<title>a&#45;&gt;b</title>");
}

fn build_error(aptfile: &str) -> String {
    let app = App::fixture("python-only");
    app.write("Aptfile", aptfile);
    Image::new("apt-error").build_fails(&app)
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unknown_package_names_the_release_and_close_names() {
    let log = build_error("libpq-dev\nlibpq\n");
    assert_contains(
        &log,
        "! ERROR: Unknown OS package in the Aptfile\n!\n! Aptfile line 2: 'libpq' is not a package of Debian 12 (bookworm) (searched:\n! bookworm, bookworm-updates, bookworm-security).\n! Close names in Debian 12 (bookworm): libpq5, libpq-dev, libpqtypes0,\n! libpqxx-6.4, libpqxx-dev.\n!\n! How to fix:\n!   Find the package's name in Debian 12 (bookworm) at\n!   https://packages.debian.org/bookworm and write it in the Aptfile.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn unavailable_version_lists_the_available_ones() {
    let log = build_error("libpq5=14.0-1\n");
    let start = "! ERROR: OS package version not available in Debian 12 (bookworm)\n!\n! Aptfile line 1: libpq5 '14.0-1' is not in Debian 12 (bookworm) (searched:\n! bookworm, bookworm-updates, bookworm-security).\n! Available: ";
    assert_contains(&log, start);
    // The archive's versions of libpq5 change with point releases: read them from the
    // message and check the rest of it around them.
    let rest = &log[log.find(start).expect("message") + start.len()..];
    let (available, rest) = rest.split_once(".\n").expect("end of the list");
    let versions: Vec<&str> = available.split(", ").collect();
    assert!(
        !versions.is_empty() && versions.iter().all(|v| v.starts_with("15.")),
        "{available}"
    );
    let newest = versions.last().expect("a version");
    // A version of libpq5 in Debian 12 (15.N-0+deb12uN) is long enough to put "for" on
    // the second line of the wrapped fix.
    assert!(
        rest.starts_with(&format!(
            "!\n! How to fix:\n!   Pin an available version (`libpq5={newest}`), or write `libpq5` alone\n!   for the newest.\n"
        )),
        "{rest}"
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn malformed_aptfile_lines_are_all_named() {
    let log = build_error("libpq-dev\nlibpq-dev curl\nhttps://example.com/tool.deb\n");
    assert_contains(
        &log,
        "! ERROR: Invalid Aptfile\n!\n! - Line 2: 'libpq-dev curl'. A line holds one package: put each package on its\n!   own line.\n! - Line 3: 'https://example.com/tool.deb'. URLs and .deb files are not\n!   supported: only packages of the stack's Debian release, verified against its\n!   signed index, are installed.\n!\n! How to fix:\n!   Write one Debian package per line, `name` or `name=version` (e.g.\n!   `libpq-dev` or `libpq5=15.10-0+deb12u1`); `#` starts a comment. See\n!   docs/os-packages.md.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn a_tampered_index_fails_the_signature_check() {
    // A mirror whose InRelease was changed after Debian signed it.
    let mirror = tempfile::tempdir().expect("tempdir");
    let dists = mirror.path().join("dists/bookworm");
    fs_err::create_dir_all(&dists).expect("mkdir");
    let in_release = dists.join("InRelease");
    let fetched = Command::new("curl")
        .args(["-fsS", "-o"])
        .arg(&in_release)
        .arg("https://deb.debian.org/debian/dists/bookworm/InRelease")
        .status()
        .expect("curl");
    assert!(fetched.success(), "could not fetch the real InRelease");
    let text = fs_err::read_to_string(&in_release).expect("read");
    assert!(text.contains("\nOrigin: Debian\n"), "{text}");
    fs_err::write(
        &in_release,
        text.replacen("\nOrigin: Debian\n", "\nOrigin: Mallory\n", 1),
    )
    .expect("write");

    let app = App::fixture("python-only");
    app.write("Aptfile", "libpq5\n");
    let log = Image::new("apt-tampered")
        .volume(&format!("{}:/mirror:ro", mirror.path().display()))
        .env("BP_APT_MIRROR_URL", "file:///mirror")
        .build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: The Debian archive's signature does not verify\n!\n! file:///mirror/dists/bookworm/InRelease is not signed by a key of\n! /usr/share/keyrings/debian-archive-keyring.gpg; it may have been tampered\n! with, or the mirror is not a copy of the Debian archive. Nothing was\n! installed.\n!\n! gpgv said:\n! gpgv: Signature made ",
    );
    assert_contains(
        &log,
        "! gpgv: BAD signature from \"Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>\"\n",
    );
    assert_contains(
        &log,
        "!\n! How to fix:\n!   Use a mirror of the Debian archive (BP_APT_MIRROR_URL). A mirror signed with\n!   its own key needs that key's keyring in BP_APT_KEYRING (default\n!   /usr/share/keyrings/debian-archive-keyring.gpg).\n",
    );
    assert_not_contains(&log, "Installing 1 package");
}
