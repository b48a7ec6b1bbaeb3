//! One pip configuration file, read as pip reads it: with Python's
//! `configparser.RawConfigParser` in its default settings. What that means, and where it
//! differs from a naive INI reader:
//!
//! - a section or a key given twice in one file is an error (`strict`); a second
//!   `[DEFAULT]` is not, but a key given twice in `[DEFAULT]` is;
//! - the keys of `[DEFAULT]` apply to every other section of the file (unless the section
//!   sets them itself); `[DEFAULT]` alone applies to nothing;
//! - a line continues the value above only when it is indented deeper than the line that
//!   started it, so indented keys are keys; blank and comment lines inside a value neither
//!   end it nor add to it (blank lines in the middle stay, as empty lines);
//! - comments are whole lines starting with `#` or `;`; after a value they are part of it;
//! - keys are lowercased, section names are not (`[Global]` is not `[global]`); a header is
//!   everything between the first `[` and the last `]` of the line.
//!
//! pip then sees, for each section, its keys together with those of `[DEFAULT]`.

use std::collections::HashSet;

/// A key of a section as pip sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting {
    pub(super) section: String,
    /// Lowercased, as written otherwise (`index_url`, `--index-url`).
    pub(super) key: String,
    pub(super) value: String,
    /// Set in `[DEFAULT]`, not in the section itself.
    pub(super) from_default: bool,
}

/// The keys and the lines of their values, in the order they were read.
type Options = Vec<(String, Vec<String>)>;

/// Where the lines being read go.
#[derive(Clone, Copy)]
enum Target {
    Default,
    Section(usize),
}

const DEFAULT_SECTION: &str = "DEFAULT";

/// The settings of every section of `contents`, in file order, or why pip cannot read it.
pub(super) fn read(contents: &str) -> Result<Vec<Setting>, String> {
    let mut defaults: Options = Vec::new();
    let mut sections: Vec<(String, Options)> = Vec::new();
    let mut target: Option<Target> = None;
    let mut option: Option<usize> = None;
    let mut indent_level = 0;
    let mut seen_keys: HashSet<(String, String)> = HashSet::new();
    for (index, line) in contents.lines().enumerate() {
        let number = index + 1;
        let text = line.trim();
        let is_comment = text.starts_with('#') || text.starts_with(';');
        if text.is_empty() || is_comment {
            if let (Some(target), Some(option), false) = (target, option, is_comment) {
                options_of(&mut defaults, &mut sections, target)[option]
                    .1
                    .push(String::new());
            }
            continue;
        }
        let indent = line.chars().take_while(|c| c.is_whitespace()).count();
        if let (Some(target), Some(option)) = (target, option)
            && indent > indent_level
        {
            options_of(&mut defaults, &mut sections, target)[option]
                .1
                .push(text.to_string());
            continue;
        }
        indent_level = indent;
        if let Some(name) = section_header(text) {
            option = None;
            if name == DEFAULT_SECTION {
                target = Some(Target::Default);
            } else if sections.iter().any(|(known, _)| known == name) {
                return Err(format!(
                    "line {number} starts the section [{name}] a second time; pip cannot read the file either (each section may appear once). Merge the two sections."
                ));
            } else {
                sections.push((name.to_string(), Vec::new()));
                target = Some(Target::Section(sections.len() - 1));
            }
            continue;
        }
        let Some(current) = target else {
            return Err(format!(
                "line {number} comes before any [section]; pip cannot read the file either. Put settings under [global] or [install]."
            ));
        };
        let Some((key, value)) = key_value(text) else {
            return Err(format!(
                "line {number} (`{text}`) is neither `key = value` nor a [section]; pip cannot read the file either."
            ));
        };
        let section = match current {
            Target::Default => DEFAULT_SECTION.to_string(),
            Target::Section(index) => sections[index].0.clone(),
        };
        if !seen_keys.insert((section.clone(), key.clone())) {
            return Err(format!(
                "line {number} sets `{key}` in [{section}] a second time; pip cannot read the file either (each key may appear once in a section). Keep one of them."
            ));
        }
        let options = options_of(&mut defaults, &mut sections, current);
        options.push((key, vec![value]));
        option = Some(options.len() - 1);
    }
    let joined = |lines: &[String]| lines.join("\n").trim_end().to_string();
    let mut settings = Vec::new();
    for (section, options) in &sections {
        for (key, lines) in &defaults {
            let own = options.iter().find(|(known, _)| known == key);
            settings.push(Setting {
                section: section.clone(),
                key: key.clone(),
                value: joined(own.map_or(lines, |(_, own)| own)),
                from_default: own.is_none(),
            });
        }
        for (key, lines) in options {
            if !defaults.iter().any(|(known, _)| known == key) {
                settings.push(Setting {
                    section: section.clone(),
                    key: key.clone(),
                    value: joined(lines),
                    from_default: false,
                });
            }
        }
    }
    Ok(settings)
}

/// The keys of `target`.
fn options_of<'a>(
    defaults: &'a mut Options,
    sections: &'a mut [(String, Options)],
    target: Target,
) -> &'a mut Options {
    match target {
        Target::Default => defaults,
        Target::Section(index) => &mut sections[index].1,
    }
}

/// `global` of `[global]`: everything between the first `[` and the last `]`, if there is
/// anything.
fn section_header(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// The lowercased key and the value of `key = value` or `key: value` (split at the first
/// `=` or `:`), unless the key is empty.
fn key_value(text: &str) -> Option<(String, String)> {
    let split = text.find(['=', ':'])?;
    let key = text[..split].trim_end().to_lowercase();
    let value = text[split + 1..].trim().to_string();
    (!key.is_empty()).then_some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(section: &str, key: &str, value: &str, from_default: bool) -> Setting {
        Setting {
            section: section.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            from_default,
        }
    }

    #[test]
    fn default_keys_apply_to_every_section_that_does_not_set_them() {
        let settings = read("[DEFAULT]\nindex-url = https://d/simple\ntimeout = 5\n[global]\ntimeout = 9\n[install]\npre = yes\n[DEFAULT]\nretries = 2\n")
            .expect("readable");
        assert_eq!(
            settings,
            [
                setting("global", "index-url", "https://d/simple", true),
                setting("global", "timeout", "9", false),
                setting("global", "retries", "2", true),
                setting("install", "index-url", "https://d/simple", true),
                setting("install", "timeout", "5", true),
                setting("install", "retries", "2", true),
                setting("install", "pre", "yes", false),
            ]
        );
        assert_eq!(read("[DEFAULT]\npre = yes\n"), Ok(Vec::new()));
    }

    #[test]
    fn files_pip_cannot_read_are_errors() {
        let unreadable = [
            (
                "index-url = x\n",
                "line 1 comes before any [section]; pip cannot read the file either. Put settings under [global] or [install].",
            ),
            (
                "[global]\n\nno value here\n",
                "line 3 (`no value here`) is neither `key = value` nor a [section]; pip cannot read the file either.",
            ),
            (
                "[global]\n= value\n",
                "line 2 (`= value`) is neither `key = value` nor a [section]; pip cannot read the file either.",
            ),
            (
                "[global]\nindex-url = a\n\nIndex-URL = b\n",
                "line 4 sets `index-url` in [global] a second time; pip cannot read the file either (each key may appear once in a section). Keep one of them.",
            ),
            (
                "[global]\npre = 1\n[install]\n[global]\n",
                "line 4 starts the section [global] a second time; pip cannot read the file either (each section may appear once). Merge the two sections.",
            ),
            (
                "[DEFAULT]\npre = 1\n[DEFAULT]\npre = 0\n",
                "line 4 sets `pre` in [DEFAULT] a second time; pip cannot read the file either (each key may appear once in a section). Keep one of them.",
            ),
        ];
        for (contents, why) in unreadable {
            assert_eq!(read(contents), Err(why.to_string()), "{contents}");
        }
        // Spelled differently, they are two keys to configparser (pip then takes the later).
        assert_eq!(
            read("[global]\nindex_url = a\nindex-url = b\n").map(|settings| settings.len()),
            Ok(2)
        );
    }

    #[test]
    fn only_deeper_lines_continue_a_value() {
        assert_eq!(
            read(
                "[global]\n  index-url = a\n  trusted-host = b\n    c\n\n    # note\n    d\n\nno-cache-dir = 1\n"
            ),
            Ok(vec![
                setting("global", "index-url", "a", false),
                setting("global", "trusted-host", "b\nc\n\nd", false),
                setting("global", "no-cache-dir", "1", false),
            ])
        );
        // An indented header below a value is part of the value.
        assert_eq!(
            read("[global]\nfind-links = a\n  [install]\n"),
            Ok(vec![setting("global", "find-links", "a\n[install]", false)])
        );
    }

    #[test]
    fn headers_keys_and_comments_read_as_configparser_reads_them() {
        assert_eq!(
            read(
                "; pip\n[global] # main\nIndex-Url: https://x/simple # mirror\n[ install ]\npre=1\n[Global]\na = b = c\n"
            ),
            Ok(vec![
                setting("global", "index-url", "https://x/simple # mirror", false),
                setting(" install ", "pre", "1", false),
                setting("Global", "a", "b = c", false),
            ])
        );
    }

    /// Python's own `configparser`, as pip calls it, reads the same files to the same
    /// settings, and fails on the same ones. The bench and every build have Python.
    #[test]
    fn python_configparser_agrees() {
        let cases = [
            "[DEFAULT]\nindex-url = https://d/simple\ntimeout = 5\n[global]\ntimeout = 9\n[install]\npre = yes\n",
            "[global]\n  index-url = a\n  trusted-host = b\n    c\n\n    # note\n    d\n\nno-cache-dir = 1\n",
            "[global]\nfind-links = a\n  [install]\n",
            "; pip\n[global] # main\nIndex-Url: https://x/simple # mirror\n[ install ]\npre=1\n[Global]\na = b = c\n",
            "[global]\nextra-index-url =\n    https://x/simple\n    https://y/simple\n",
            "[global]\nindex_url = a\nindex-url = b\n",
            "[global]\nindex-url = a\n\nIndex-URL = b\n",
            "[global]\npre = 1\n[install]\n[global]\n",
            "[DEFAULT]\npre = 1\n[DEFAULT]\npre = 0\n",
            "index-url = x\n",
            "[global]\n\nno value here\n",
        ];
        let script = r#"
import configparser, json, sys
for case in json.loads(sys.argv[1]):
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(case)
        print(json.dumps([[s, k, v] for s in parser.sections() for k, v in parser.items(s)]))
    except configparser.Error:
        print("error")
"#;
        let input = format!(
            "[{}]",
            cases
                .iter()
                .map(|case| format!("{case:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let output = std::process::Command::new("python3")
            .args(["-c", script, &input])
            .output()
            .expect("python3 runs (the bench has it)");
        let python = String::from_utf8(output.stdout).expect("utf-8");
        let ours: Vec<String> = cases
            .iter()
            .map(|case| match read(case) {
                Ok(settings) => format!(
                    "[{}]",
                    settings
                        .iter()
                        .map(|s| format!("[{:?}, {:?}, {:?}]", s.section, s.key, s.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(_) => "error".to_string(),
            })
            .collect();
        assert_eq!(python.lines().collect::<Vec<_>>(), ours);
    }
}
