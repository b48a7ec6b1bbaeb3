//! The Procfile format: `name: command` per line; `#` comments and blank lines ignored.
//! Names are CNB process types (letters, digits, `-`, `_`, `.`).

use std::fmt::Display;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Procfile {
    /// In file order.
    pub(crate) processes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProcfileError {
    /// A line that is not `name: command`.
    Malformed {
        line_number: usize,
        line: String,
    },
    /// A process name CNB does not accept.
    InvalidName {
        line_number: usize,
        name: String,
    },
    /// `name:` with nothing after it.
    EmptyCommand {
        line_number: usize,
        name: String,
    },
    Duplicate {
        line_number: usize,
        name: String,
    },
    NoProcesses,
}

impl Display for ProcfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed { line_number, line } => {
                write!(
                    f,
                    "Line {line_number} is not of the form 'name: command': {line}"
                )
            }
            Self::InvalidName { line_number, name } => write!(
                f,
                "Line {line_number}: '{name}' is not a valid process name (use letters, digits, '-', '_' and '.')"
            ),
            Self::EmptyCommand { line_number, name } => {
                write!(f, "Line {line_number}: process '{name}' has no command")
            }
            Self::Duplicate { line_number, name } => {
                write!(
                    f,
                    "Line {line_number}: process '{name}' is defined a second time"
                )
            }
            Self::NoProcesses => write!(f, "The Procfile defines no processes"),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl std::str::FromStr for Procfile {
    type Err = ProcfileError;

    fn from_str(text: &str) -> Result<Self, ProcfileError> {
        let mut processes: Vec<(String, String)> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, command)) = line.split_once(':') else {
                return Err(ProcfileError::Malformed {
                    line_number,
                    line: line.to_string(),
                });
            };
            let (name, command) = (name.trim(), command.trim());
            if !valid_name(name) {
                return Err(ProcfileError::InvalidName {
                    line_number,
                    name: name.to_string(),
                });
            }
            if command.is_empty() {
                return Err(ProcfileError::EmptyCommand {
                    line_number,
                    name: name.to_string(),
                });
            }
            if processes.iter().any(|(existing, _)| existing == name) {
                return Err(ProcfileError::Duplicate {
                    line_number,
                    name: name.to_string(),
                });
            }
            processes.push((name.to_string(), command.to_string()));
        }
        if processes.is_empty() {
            return Err(ProcfileError::NoProcesses);
        }
        Ok(Self { processes })
    }
}

impl Procfile {
    /// The default process: `web` if defined, else the only process, else none.
    pub(crate) fn default_process(&self) -> Option<&str> {
        if self.processes.iter().any(|(name, _)| name == "web") {
            Some("web")
        } else if let [(name, _)] = &self.processes[..] {
            Some(name)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_processes_in_order() {
        let procfile: Procfile = "# services\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n\nworker:   python worker.py  \n"
            .parse()
            .expect("valid");
        assert_eq!(
            procfile.processes,
            vec![
                ("web".into(), "gunicorn app:app --bind 0.0.0.0:$PORT".into()),
                ("worker".into(), "python worker.py".into())
            ]
        );
        assert_eq!(procfile.default_process(), Some("web"));
    }

    #[test]
    fn single_process_is_the_default() {
        let procfile: Procfile = "job: python run.py".parse().expect("valid");
        assert_eq!(procfile.default_process(), Some("job"));
        let two: Procfile = "a: x\nb: y".parse().expect("valid");
        assert_eq!(two.default_process(), None);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            "web: ok\nthis is wrong"
                .parse::<Procfile>()
                .map(|_| ())
                .expect_err("malformed")
                .to_string(),
            "Line 2 is not of the form 'name: command': this is wrong"
        );
        assert_eq!(
            "we b: x".parse::<Procfile>().expect_err("bad name"),
            ProcfileError::InvalidName {
                line_number: 1,
                name: "we b".into()
            }
        );
        assert_eq!(
            "web:".parse::<Procfile>().expect_err("empty"),
            ProcfileError::EmptyCommand {
                line_number: 1,
                name: "web".into()
            }
        );
        assert_eq!(
            "web: a\nweb: b".parse::<Procfile>().expect_err("dup"),
            ProcfileError::Duplicate {
                line_number: 2,
                name: "web".into()
            }
        );
        assert_eq!(
            "# nothing\n".parse::<Procfile>().expect_err("empty"),
            ProcfileError::NoProcesses
        );
    }
}
