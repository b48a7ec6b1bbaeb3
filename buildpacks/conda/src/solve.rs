//! Solving `environment.yml`: the channels' indexes read with rattler's gateway, the specs
//! solved with resolvo against them, the virtual packages of the target and the configured
//! channel priority.

use crate::config::{self, Config};
use rattler_conda_types::{
    Channel, ChannelConfig, GenericVirtualPackage, MatchSpec, RepoDataRecord, Subdir,
};
use rattler_repodata_gateway::Gateway;
use rattler_solve::{SolverImpl, SolverTask};
use rattler_virtual_packages::{Override, VirtualPackageOverrides, VirtualPackages};
use reqwest_middleware::ClientWithMiddleware;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) enum SolveFailure {
    /// A channel name or URL that is not one.
    BadChannel { channel: String, error: String },
    /// A channel's index could not be fetched or read.
    Index {
        channels: Vec<String>,
        error: String,
    },
    /// Specs naming packages that no channel has.
    Unknown {
        names: Vec<String>,
        channels: Vec<String>,
    },
    /// No set of packages satisfies the specs: resolvo's explanation.
    Unsatisfiable(String),
    /// A `CONDA_OVERRIDE_*` value that is no version.
    Override { variable: String, error: String },
    /// The client could not be set up (the auth file).
    Client(String),
}

/// `error: source: source…`, each message once.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(next) = source {
        let text = next.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = next.source();
    }
    parts.join(": ")
}

/// The HTTP client for indexes and packages: credentials from the URL and from
/// `BP_CONDA_AUTH_FILE` (rattler's JSON format: host → credentials).
pub(crate) fn client(config: &Config) -> Result<ClientWithMiddleware, SolveFailure> {
    let mut storage = rattler_networking::AuthenticationStorage::empty();
    if let Some(path) = &config.auth_file {
        let file =
            rattler_networking::authentication_storage::backends::file::FileStorage::from_path(
                path.clone(),
            )
            .map_err(|error| {
                SolveFailure::Client(format!(
                    "{}={} could not be read: {}",
                    config::AUTH_FILE_VARIABLE,
                    path.display(),
                    chain(&error)
                ))
            })?;
        storage.add_backend(Arc::new(file));
    }
    let http = reqwest::Client::builder()
        .user_agent(concat!("blacklodge-conda/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(30))
        .read_timeout(std::time::Duration::from_mins(2))
        .build()
        .map_err(|error| SolveFailure::Client(chain(&error)))?;
    Ok(reqwest_middleware::ClientBuilder::new(http)
        .with_arc(Arc::new(
            rattler_networking::AuthenticationMiddleware::from_auth_storage(storage),
        ))
        .build())
}

/// The channels, resolved against the alias (names) and the app directory (paths).
pub(crate) fn channels(
    names: &[String],
    config: &Config,
    app_dir: &Path,
) -> Result<Vec<Channel>, SolveFailure> {
    let channel_config = ChannelConfig {
        channel_alias: config.channel_alias.clone(),
        root_dir: app_dir.to_path_buf(),
    };
    names
        .iter()
        .map(|name| {
            Channel::from_str(name, &channel_config).map_err(|error| SolveFailure::BadChannel {
                channel: name.clone(),
                error: chain(&error),
            })
        })
        .collect()
}

/// The channel as the log shows it: its name and the URL it resolved to.
pub(crate) fn describe_channel(channel: &Channel) -> String {
    let url = config::redact(channel.base_url.url().as_ref());
    match &channel.name {
        Some(name) => format!("{name} ({url})"),
        None => url,
    }
}

/// The virtual packages of the target: detected on the build machine, with `CONDA_OVERRIDE_*`
/// of the build environment taking precedence.
pub(crate) fn virtual_packages(
    config: &Config,
) -> Result<Vec<GenericVirtualPackage>, SolveFailure> {
    let mut overrides = VirtualPackageOverrides::all(Override::DefaultEnvVar);
    for (variable, value) in &config.overrides {
        let slot = match variable.as_str() {
            "CONDA_OVERRIDE_GLIBC" => &mut overrides.libc,
            "CONDA_OVERRIDE_LINUX" => &mut overrides.linux,
            "CONDA_OVERRIDE_CUDA" => &mut overrides.cuda,
            "CONDA_OVERRIDE_ARCHSPEC" => &mut overrides.archspec,
            "CONDA_OVERRIDE_OSX" => &mut overrides.osx,
            "CONDA_OVERRIDE_WIN" => &mut overrides.win,
            _ => continue,
        };
        *slot = Some(Override::String(value.clone()));
    }
    let detected = VirtualPackages::detect(&overrides, None).map_err(|error| {
        let variable = config
            .overrides
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        SolveFailure::Override {
            variable,
            error: chain(&error),
        }
    })?;
    let mut packages: Vec<GenericVirtualPackage> =
        detected.into_generic_virtual_packages().collect();
    packages.sort_by(|a, b| a.name.as_normalized().cmp(b.name.as_normalized()));
    Ok(packages)
}

/// `__glibc=2.36=0, __linux=6.1=0, …` for the log and the cache key.
pub(crate) fn describe_virtual_packages(packages: &[GenericVirtualPackage]) -> String {
    packages
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fetches the indexes of `channels` for the target platform and `noarch`, and solves.
pub(crate) async fn solve(
    gateway: &Gateway,
    channels: &[Channel],
    specs: &[MatchSpec],
    virtual_packages: Vec<GenericVirtualPackage>,
    priority: rattler_solve::ChannelPriority,
    locked: &[RepoDataRecord],
) -> Result<Vec<RepoDataRecord>, SolveFailure> {
    let described: Vec<String> = channels.iter().map(describe_channel).collect();
    let output = gateway
        .query(
            channels.iter().cloned(),
            [crate::install::PLATFORM, Subdir::NoArch],
            specs.iter().cloned(),
        )
        .recursive(true)
        .execute()
        .await
        .map_err(|error| SolveFailure::Index {
            channels: described.clone(),
            error: chain(&error),
        })?;
    let repodata = output.repodata;
    let unknown: Vec<String> = specs
        .iter()
        .filter_map(|spec| spec.name.as_exact())
        .filter(|name| {
            !repodata.iter().any(|data| {
                data.iter()
                    .any(|record| &record.package_record.name == *name)
            })
        })
        .map(|name| name.as_source().to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(SolveFailure::Unknown {
            names: unknown,
            channels: described,
        });
    }
    let task = SolverTask {
        specs: specs.to_vec(),
        virtual_packages,
        channel_priority: priority,
        locked_packages: locked.iter().collect(),
        ..SolverTask::from_iter(&repodata)
    };
    let mut records = rattler_solve::resolvo::Solver
        .solve(task)
        .map_err(|error| match error {
            rattler_solve::SolveError::Unsolvable(explanations) => {
                SolveFailure::Unsatisfiable(explanations.join("\n"))
            }
            other => SolveFailure::Unsatisfiable(chain(&other)),
        })?
        .records;
    records.sort_by(|a, b| {
        a.package_record
            .name
            .as_normalized()
            .cmp(b.package_record.name.as_normalized())
    });
    Ok(records)
}
