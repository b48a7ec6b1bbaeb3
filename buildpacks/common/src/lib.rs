//! Shared logic of the Blacklodge buildpacks.
//!
//! Every buildpack prints through [`output`], reports failures through [`error`], runs tools
//! through [`command`], fetches through [`download`] and explains cache decisions through
//! [`cache`], so all of them look and behave the same.

pub mod cache;
pub mod command;
pub mod download;
pub mod env;
pub mod error;
pub mod output;
pub mod project_metadata;
pub mod pypi;
pub mod runtime_plan;
pub mod sbom;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wrap;
