//! The translation as a whole: requirement files and pip settings in, uv settings out.

use super::config_files::config_file_candidates;
use super::credentials::without_credentials;
use super::*;
use crate::requirements::logical_lines;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn file(name: &str, contents: &str) -> RequirementsFile {
    RequirementsFile {
        path: PathBuf::from("/workspace").join(name),
        name: name.to_string(),
        contents: contents.to_string(),
        lines: logical_lines(contents),
    }
}

fn settings(vars: &[(&str, &str)]) -> PipSettings {
    PipSettings {
        vars: vars
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
            .collect(),
        ..PipSettings::default()
    }
}

#[test]
fn plain_requirements_need_nothing() {
    let files = [file(
        "requirements.txt",
        "flask==3.1.2\n-r base.txt\n-e .\n",
    )];
    assert_eq!(
        for_uv(&files, &settings(&[])).expect("supported"),
        UvSettings::default()
    );
}

#[test]
fn a_hash_in_any_file_turns_hash_checking_on() {
    let files = [
        file("requirements.txt", "-r base.txt\nflask==3.1.2\n"),
        file(
            "requirements/base.txt",
            "# pinned\nsix==1.17.0 \\\n    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n",
        ),
    ];
    let uv = for_uv(&files, &settings(&[])).expect("supported");
    assert_eq!(
        uv.hash_checking.as_deref(),
        Some("--hash on line 2 of requirements/base.txt")
    );
    assert_eq!(uv.args, ["--require-hashes"]);

    let uv = for_uv(
        &[file("requirements.txt", "flask==3.1.2\n")],
        &settings(&[("PIP_REQUIRE_HASHES", "yes")]),
    )
    .expect("supported");
    assert_eq!(uv.hash_checking.as_deref(), Some("PIP_REQUIRE_HASHES"));
    assert_eq!(uv.args, ["--require-hashes"]);
    // A hash in a comment is not one.
    let uv = for_uv(
        &[file(
            "requirements.txt",
            "flask==3.1.2  # --hash=sha256:x\n",
        )],
        &settings(&[]),
    )
    .expect("supported");
    assert_eq!(uv.hash_checking, None);
}

#[test]
fn options_uv_ignores_in_files_become_arguments() {
    let files = [file(
        "requirements.txt",
        "--pre\n--trusted-host pypi.internal:8080\n--use-feature=truststore\nflask\n",
    )];
    let uv = for_uv(&files, &settings(&[])).expect("supported");
    assert_eq!(
        uv.args,
        [
            "--prerelease",
            "allow",
            "--allow-insecure-host",
            "pypi.internal:8080"
        ]
    );
    assert_eq!(
        uv.notes,
        [
            "--pre (line 1 of requirements.txt)",
            "--trusted-host (line 2 of requirements.txt)"
        ]
    );
}

#[test]
fn options_uv_cannot_honour_are_reported_with_their_place() {
    let files = [
        file(
            "requirements.txt",
            "flask==3.1.2\n--prefer-binary\npsycopg2 --global-option=build_ext\n-r dev.txt\n",
        ),
        file(
            "dev.txt",
            "-e hg+https://hg.example/tool@v1#egg=tool\nlxml --config-settings=--build-option=--static\n--use-feature=fast-deps\n",
        ),
    ];
    let unsupported = for_uv(&files, &settings(&[])).expect_err("unsupported");
    let places: Vec<(&str, &str)> = unsupported
        .iter()
        .map(|item| (item.place.as_str(), item.what.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            ("line 2 of requirements.txt", "`--prefer-binary`"),
            (
                "line 3 of requirements.txt",
                "`psycopg2 --global-option=build_ext`"
            ),
            (
                "line 1 of dev.txt",
                "`-e hg+https://hg.example/tool@v1#egg=tool`"
            ),
            (
                "line 2 of dev.txt",
                "`lxml --config-settings=--build-option=--static`"
            ),
            ("line 3 of dev.txt", "`--use-feature=fast-deps`"),
        ]
    );
    assert!(unsupported[1].why.contains("setup.py"), "{unsupported:?}");
}

#[test]
fn editable_git_requirements_are_installed_without_e() {
    let contents = "flask==3.1.2\n-e git+https://github.com/org/tool@v1#egg=tool  # the CLI\n--editable=git+https://host/a.git#egg=a&subdirectory=pkg\n-e .\n";
    let uv = for_uv(
        &[
            file("requirements.txt", contents),
            file("dev.txt", "--editable git+https://host/b.git#egg=b\n"),
        ],
        &settings(&[]),
    )
    .expect("translated");
    assert_eq!(
        uv.rewrites,
        vec![
            Rewrite {
                path: PathBuf::from("/workspace/requirements.txt"),
                lines: vec![2, 3],
            },
            Rewrite {
                path: PathBuf::from("/workspace/dev.txt"),
                lines: vec![1],
            },
        ]
    );
    assert_eq!(
        uv.rewrites[0].apply(contents),
        "flask==3.1.2\ngit+https://github.com/org/tool@v1#egg=tool  # the CLI\ngit+https://host/a.git#egg=a&subdirectory=pkg\n-e .\n"
    );
    assert_eq!(
        uv.rewrites[1].apply("--editable git+https://host/b.git#egg=b"),
        "git+https://host/b.git#egg=b"
    );
    assert_eq!(
        uv.notes,
        [
            "-e git+… → non-editable (line 2 of requirements.txt)",
            "-e git+… → non-editable (line 3 of requirements.txt)",
            "-e git+… → non-editable (line 1 of dev.txt)",
        ]
    );
    // Over several physical lines it cannot be rewritten in place.
    let split = for_uv(
        &[file(
            "requirements.txt",
            "-e \\\ngit+https://host/c.git#egg=c\n",
        )],
        &settings(&[]),
    )
    .expect_err("continued");
    assert_eq!(split[0].place, "line 1 of requirements.txt");
}

#[test]
fn several_index_urls_are_ambiguous() {
    let files = [
        file("requirements.txt", "-i https://a/simple\n-r b.txt\n"),
        file("b.txt", "--index-url https://b/simple\n"),
    ];
    let unsupported = for_uv(&files, &settings(&[])).expect_err("ambiguous");
    assert_eq!(
        unsupported[0].place,
        "line 1 of requirements.txt, line 1 of b.txt"
    );
    assert!(
        unsupported[0]
            .why
            .starts_with("pip uses the last one read (line 1 of b.txt), uv the first.")
    );
}

#[test]
fn pip_variables_become_uv_variables_and_arguments() {
    let uv = for_uv(
        &[file("requirements.txt", "flask\n")],
        &settings(&[
            ("PIP_INDEX_URL", "https://user:secret@mirror/simple"),
            ("PIP_EXTRA_INDEX_URL", "https://a/simple  https://b/simple"),
            ("PIP_FIND_LINKS", "/workspace/wheels https://host/links"),
            ("PIP_NO_INDEX", "off"),
            ("PIP_PRE", "true"),
            ("PIP_TRUSTED_HOST", "a b:8080"),
            ("PIP_ONLY_BINARY", ":all:"),
            ("PIP_DEFAULT_TIMEOUT", "15.5"),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_NO_CACHE_DIR", "1"),
        ]),
    )
    .expect("supported");
    let env: BTreeMap<&str, &str> = uv
        .env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        env,
        BTreeMap::from([
            ("UV_INDEX_URL", "https://user:secret@mirror/simple"),
            ("UV_EXTRA_INDEX_URL", "https://a/simple https://b/simple"),
            ("UV_FIND_LINKS", "/workspace/wheels,https://host/links"),
            ("UV_HTTP_TIMEOUT", "16"),
        ])
    );
    assert_eq!(
        uv.args,
        [
            "--only-binary",
            ":all:",
            "--prerelease",
            "allow",
            "--allow-insecure-host",
            "a",
            "--allow-insecure-host",
            "b:8080"
        ]
    );
    assert!(uv.notes.iter().all(|note| !note.contains("secret")));
    assert!(
        uv.notes
            .contains(&"PIP_INDEX_URL → UV_INDEX_URL".to_string())
    );
}

#[test]
fn uv_variables_of_the_build_win() {
    let uv = for_uv(
        &[file("requirements.txt", "flask\n")],
        &settings(&[
            ("PIP_INDEX_URL", "https://pip/simple"),
            ("UV_DEFAULT_INDEX", "https://uv/simple"),
            ("PIP_TRUSTED_HOST", "a"),
            ("UV_INSECURE_HOST", "b"),
        ]),
    )
    .expect("supported");
    assert!(uv.env.is_empty(), "{uv:?}");
    assert!(uv.args.is_empty(), "{uv:?}");
    assert!(
        uv.notes
            .contains(&"PIP_INDEX_URL (not used: UV_DEFAULT_INDEX is set)".to_string())
    );
}

#[test]
fn an_index_chosen_by_the_files_wins_over_the_variables_as_with_pip() {
    let uv = for_uv(
        &[file(
            "requirements.txt",
            "--index-url https://file/simple\nflask\n",
        )],
        &settings(&[
            ("PIP_INDEX_URL", "https://pip/simple"),
            ("PIP_EXTRA_INDEX_URL", "https://extra/simple"),
        ]),
    )
    .expect("supported");
    assert!(uv.env.is_empty(), "{uv:?}");
    // Only extra indexes in the files: pip adds them to the variables' indexes.
    let uv = for_uv(
        &[file(
            "requirements.txt",
            "--extra-index-url https://file/simple\nflask\n",
        )],
        &settings(&[("PIP_INDEX_URL", "https://pip/simple")]),
    )
    .expect("supported");
    assert_eq!(
        uv.env,
        [("UV_INDEX_URL".to_string(), "https://pip/simple".to_string())]
    );
}

#[test]
fn pip_settings_uv_cannot_honour_are_errors() {
    let pip = settings(&[
        ("PIP_PREFER_BINARY", "1"),
        ("PIP_CONSTRAINT", "c.txt https://example.com/c.txt"),
        ("PIP_NO_INDEX", "maybe"),
        ("PIP_NO_BUILD_ISOLATION", "sometimes"),
        ("PIP_SRC", "/src"),
    ]);
    let pip = pip.with_config(&[("/etc/pip.conf".into(), "index-url = x\n".into())]);
    let unsupported =
        for_uv(&[file("requirements.txt", "flask\n")], &pip).expect_err("unsupported");
    let places: Vec<&str> = unsupported.iter().map(|u| u.place.as_str()).collect();
    assert_eq!(
        places,
        [
            "/etc/pip.conf",
            "PIP_CONSTRAINT",
            "PIP_NO_BUILD_ISOLATION",
            "PIP_NO_INDEX",
            "PIP_PREFER_BINARY",
            "PIP_SRC"
        ]
    );
    assert!(unsupported[1].why.contains("Save the file in the app"));
}

#[test]
fn constraint_files_go_to_uv_unless_it_has_its_own() {
    let files = [file("requirements.txt", "flask\n")];
    let uv = for_uv(
        &files,
        &settings(&[("PIP_CONSTRAINT", " c.txt  /etc/more.txt ")]),
    )
    .expect("supported");
    assert_eq!(
        uv.env,
        [(
            "UV_CONSTRAINT".to_string(),
            "c.txt /etc/more.txt".to_string()
        )]
    );
    assert_eq!(uv.notes, ["PIP_CONSTRAINT → UV_CONSTRAINT"]);

    let uv = for_uv(
        &files,
        &settings(&[("PIP_CONSTRAINT", "c.txt"), ("UV_CONSTRAINT", "mine.txt")]),
    )
    .expect("supported");
    assert!(uv.env.is_empty(), "{:?}", uv.env);
    assert_eq!(
        uv.notes,
        ["PIP_CONSTRAINT (not used: UV_CONSTRAINT is set)"]
    );
}

#[test]
fn no_build_isolation_is_read_inverted_as_pip_reads_it() {
    let files = [file("requirements.txt", "flask\n")];
    for off in ["false", "0", "no", "off"] {
        let uv = for_uv(&files, &settings(&[("PIP_NO_BUILD_ISOLATION", off)])).expect("supported");
        assert_eq!(uv.args, ["--no-build-isolation"], "{off}");
        assert_eq!(
            uv.notes,
            [format!(
                "PIP_NO_BUILD_ISOLATION={off} → --no-build-isolation (pip reads a false value here as turning isolation off)"
            )]
        );
    }
    for on in ["true", "1", "yes"] {
        let uv = for_uv(&files, &settings(&[("PIP_NO_BUILD_ISOLATION", on)])).expect("supported");
        assert!(uv.args.is_empty(), "{on}: {:?}", uv.args);
        assert!(uv.notes[0].contains("no effect"), "{:?}", uv.notes);
    }
}

#[test]
fn the_install_key_has_what_changes_the_install_without_secrets() {
    let key = settings(&[
        ("PIP_PRE", "1"),
        ("PIP_PROGRESS_BAR", "off"),
        (
            "PIP_EXTRA_INDEX_URL",
            "https://user:s3cret@pkgs.example/simple",
        ),
        ("UV_INDEX_PRIVATE_PASSWORD", "s3cret"),
        ("UV_CACHE_DIR", "/tmp/uv"),
        ("UV_NO_BUILD_ISOLATION", "1"),
        ("PIP_NO_BINARY", " "),
    ])
    .install_key();
    assert_eq!(
        key.keys().map(String::as_str).collect::<Vec<_>>(),
        ["PIP_EXTRA_INDEX_URL", "PIP_PRE", "UV_NO_BUILD_ISOLATION"]
    );
    // The digest is the URL's without its credentials: a new password keeps the key.
    let other_password = settings(&[(
        "PIP_EXTRA_INDEX_URL",
        "https://user:changed@pkgs.example/simple",
    )])
    .install_key();
    assert_eq!(
        other_password["PIP_EXTRA_INDEX_URL"],
        key["PIP_EXTRA_INDEX_URL"]
    );
    let other_host =
        settings(&[("PIP_EXTRA_INDEX_URL", "https://other.example/simple")]).install_key();
    assert_ne!(
        other_host["PIP_EXTRA_INDEX_URL"],
        key["PIP_EXTRA_INDEX_URL"]
    );
    assert_eq!(
        without_credentials("https://u:p@h/x http://h2 https://t@h3/a/b c.txt"),
        "https://h/x http://h2 https://h3/a/b c.txt"
    );
}

#[test]
fn configuration_files_resolve_as_pip_resolves_them() {
    let pip = settings(&[("PIP_ONLY_BINARY", "pkg")]).with_config(&[
        (
            "/etc/pip.conf".into(),
            "# site-wide\n[global]\nindex-url = https://a/simple\nonly_binary = :all:\nextra-index-url =\n    https://x/simple\n    https://y/simple\n[install]\nindex-url: https://b/simple\n".into(),
        ),
        ("pip.conf".into(), "[global]\npre = yes\n[freeze]\nall = true\n".into()),
    ]);
    let vars: Vec<(&str, &str)> = pip
        .vars
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        vars,
        [
            (
                "PIP_EXTRA_INDEX_URL",
                "\nhttps://x/simple\nhttps://y/simple"
            ),
            ("PIP_INDEX_URL", "https://b/simple"),
            ("PIP_ONLY_BINARY", "pkg"),
            ("PIP_PRE", "yes"),
        ]
    );
    let uv = for_uv(&[file("requirements.txt", "flask\n")], &pip).expect("supported");
    assert_eq!(
        uv.env,
        [
            (
                "UV_EXTRA_INDEX_URL".to_string(),
                "https://x/simple https://y/simple".to_string()
            ),
            ("UV_INDEX_URL".to_string(), "https://b/simple".to_string()),
        ]
    );
    assert_eq!(
        uv.notes,
        [
            "/etc/pip.conf [global] extra-index-url → UV_EXTRA_INDEX_URL",
            "/etc/pip.conf [install] index-url → UV_INDEX_URL",
            "PIP_ONLY_BINARY → --only-binary",
            "pip.conf [global] pre → --prerelease allow",
        ]
    );
}

#[test]
fn configuration_uv_cannot_honour_names_file_section_and_key() {
    let pip = settings(&[]).with_config(&[
        (
            "pip.conf".into(),
            "[install]\nprefer-binary = true\n".into(),
        ),
        (
            "broken.conf".into(),
            "[global]\n  stray\nno section\n".into(),
        ),
    ]);
    let unsupported =
        for_uv(&[file("requirements.txt", "flask\n")], &pip).expect_err("unsupported");
    let places: Vec<&str> = unsupported.iter().map(|u| u.place.as_str()).collect();
    assert_eq!(places, ["broken.conf", "pip.conf [install] prefer-binary"]);
    assert_eq!(
        unsupported[0].why,
        "line 2 (`stray`) is neither `key = value` nor a [section]; pip cannot read the file either."
    );
}

#[test]
fn pip_looks_for_configuration_where_pip_does() {
    let app = Path::new("/workspace");
    assert_eq!(
        config_file_candidates(None, Some(Path::new("/home/cnb")), None, None, app),
        [
            "/etc/xdg/pip/pip.conf",
            "/etc/pip.conf",
            "/home/cnb/.pip/pip.conf",
            "/home/cnb/.config/pip/pip.conf"
        ]
        .map(PathBuf::from)
    );
    assert_eq!(
        config_file_candidates(Some("pip.conf"), None, Some("/a:/b"), None, app),
        [
            "/a/pip/pip.conf",
            "/b/pip/pip.conf",
            "/etc/pip.conf",
            "/workspace/pip.conf"
        ]
        .map(PathBuf::from)
    );
    assert!(config_file_candidates(Some("/dev/null"), None, None, None, app).is_empty());
    // An existing PIP_CONFIG_FILE replaces the user's files (not the global ones).
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::write(dir.path().join("pip.conf"), "[global]\n").expect("write");
    assert_eq!(
        config_file_candidates(
            Some("pip.conf"),
            Some(Path::new("/home/cnb")),
            None,
            None,
            dir.path()
        ),
        [
            PathBuf::from("/etc/xdg/pip/pip.conf"),
            PathBuf::from("/etc/pip.conf"),
            dir.path().join("pip.conf")
        ]
    );
}

#[test]
fn configuration_files_are_read_with_configparser_semantics() {
    // [DEFAULT] applies to [global] and [install]; [install] wins, so the default does too.
    let pip = settings(&[]).with_config(&[
        (
            "/etc/pip.conf".into(),
            "[DEFAULT]\nindex-url = https://d/simple\n[global]\n[install]\n".into(),
        ),
        (
            "pip.conf".into(),
            "[global]\nindex-url = https://g/simple\n".into(),
        ),
    ]);
    let uv = for_uv(&[file("requirements.txt", "flask\n")], &pip).expect("supported");
    assert_eq!(
        uv.env,
        [("UV_INDEX_URL".to_string(), "https://d/simple".to_string())]
    );
    assert_eq!(
        uv.notes,
        ["/etc/pip.conf [DEFAULT] index-url → UV_INDEX_URL"]
    );
    // A key twice in a section fails pip, so it fails the build, naming the file.
    let pip = settings(&[]).with_config(&[(
        "pip.conf".into(),
        "[global]\nindex-url = https://a/simple\nindex-url = https://b/simple\n".into(),
    )]);
    let unsupported =
        for_uv(&[file("requirements.txt", "flask\n")], &pip).expect_err("duplicate key");
    assert_eq!(
        unsupported,
        [Unsupported {
            place: "pip.conf".to_string(),
            what: "pip's configuration file".to_string(),
            why: "line 3 sets `index-url` in [global] a second time; pip cannot read the file either (each key may appear once in a section). Keep one of them.".to_string(),
        }]
    );
}
