//! The launch processes: one per mode (`web`, `worker`, `job`), each running the harness
//! command of that name.

use crate::config::{Mode, WrapperConfig};
use libcnb::data::launch::{Launch, LaunchBuilder, ProcessBuilder, ProcessType};
use std::path::Path;

fn process_type(mode: Mode) -> ProcessType {
    match mode {
        Mode::Web => libcnb::data::process_type!("web"),
        Mode::Worker => libcnb::data::process_type!("worker"),
        Mode::Job => libcnb::data::process_type!("job"),
    }
}

/// `(mode, command)` pairs in declaration order.
pub(crate) fn commands(config: &WrapperConfig, launcher: &Path) -> Vec<(Mode, Vec<String>)> {
    config
        .modes
        .iter()
        .map(|mode| {
            (
                *mode,
                vec![
                    launcher.to_string_lossy().into_owned(),
                    mode.name().to_string(),
                ],
            )
        })
        .collect()
}

pub(crate) fn launch(config: &WrapperConfig, launcher: &Path) -> Launch {
    let mut launch = LaunchBuilder::new();
    for (mode, command) in commands(config, launcher) {
        launch.process(
            ProcessBuilder::new(process_type(mode), command)
                .default(mode == config.default_mode)
                .build(),
        );
    }
    launch.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    #[test]
    fn one_process_per_mode_with_the_default() {
        let config = WrapperConfig {
            origin: Origin::ConfigFile,
            entrypoint: "model:predict".into(),
            entrypoint_overridden: false,
            modes: vec![Mode::Job, Mode::Worker, Mode::Web],
            default_mode: Mode::Worker,
            name: None,
            version: None,
            validate: true,
            validate_timeout: crate::config::DEFAULT_VALIDATE_TIMEOUT,
            kafka: None,
        };
        let launch = launch(&config, Path::new("/layers/w/harness/bin/blacklodge"));
        let summary: Vec<(String, Vec<String>, bool)> = launch
            .processes
            .iter()
            .map(|p| (p.r#type.to_string(), p.command.clone(), p.default))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "job".to_string(),
                    vec![
                        "/layers/w/harness/bin/blacklodge".to_string(),
                        "job".to_string()
                    ],
                    false
                ),
                (
                    "worker".to_string(),
                    vec![
                        "/layers/w/harness/bin/blacklodge".to_string(),
                        "worker".to_string()
                    ],
                    true
                ),
                (
                    "web".to_string(),
                    vec![
                        "/layers/w/harness/bin/blacklodge".to_string(),
                        "web".to_string()
                    ],
                    false
                ),
            ]
        );
    }
}
