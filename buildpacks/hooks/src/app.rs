//! All the scripts of an app, found and checked together: both hook buildpacks check every
//! one, so a mistake in a late script fails the build before the dependency install.

use crate::errors::HookError;
use crate::s2i::S2iRepo;
use crate::script::{Kind, POST_COMPILE, PRE_COMPILE, Script};
use blacklodge_common::output;
use std::path::Path;

#[derive(Debug)]
pub struct AppScripts {
    pub pre_compile: Option<Script>,
    pub post_compile: Option<Script>,
    pub s2i: S2iRepo,
}

impl AppScripts {
    /// Whether the app has anything for the hook buildpacks: a hook or an `.s2i` directory
    /// (printing why not).
    #[must_use]
    pub fn detect(app_dir: &Path) -> bool {
        let found = [PRE_COMPILE, POST_COMPILE, ".s2i"]
            .iter()
            .any(|name| app_dir.join(name).symlink_metadata().is_ok());
        if !found {
            println!("No {PRE_COMPILE}, {POST_COMPILE} or .s2i directory in the app root.");
        }
        found
    }

    /// Finds the scripts and checks each; with `report`, lists them and warns about the
    /// `.s2i/bin` files that are not run (the first hook buildpack reports, the second only
    /// checks again).
    ///
    /// # Errors
    /// The first script that cannot run, or an unsupported `.s2i/bin` file.
    pub fn read_and_check(app_dir: &Path, report: bool) -> Result<Self, HookError> {
        let scripts = Self {
            pre_compile: Script::find(app_dir, PRE_COMPILE, Kind::Hook),
            post_compile: Script::find(app_dir, POST_COMPILE, Kind::Hook),
            s2i: S2iRepo::read(app_dir)?,
        };
        let all: Vec<&Script> = scripts
            .pre_compile
            .iter()
            .chain(scripts.post_compile.iter())
            .chain(scripts.s2i.scripts())
            .collect();
        for script in &all {
            script.check()?;
        }
        if !report {
            return Ok(scripts);
        }
        if !all.is_empty() {
            output::step(format!(
                "Checked {}",
                all.iter()
                    .map(|script| script.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !scripts.s2i.ignored.is_empty() {
            output::warning(
                "S2I files that are not run",
                format!(
                    "{} {} not run: the buildpacks run only .s2i/bin/assemble and .s2i/bin/run (S2I's usage script has no equivalent in an image built by buildpacks).\nDelete {} to silence this warning.",
                    scripts.s2i.ignored.join(", "),
                    output::noun(scripts.s2i.ignored.len(), "is", "are"),
                    output::noun(scripts.s2i.ignored.len(), "it", "them"),
                ),
            );
        }
        Ok(scripts)
    }
}
