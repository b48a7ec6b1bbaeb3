//! The `[kafka]` table of the wrapper configuration: the worker's defaults, and the checks
//! Kafka itself would make of the topic names.

use super::{ConfigError, Origin, checked_text};
use serde::Deserialize;

/// The longest Kafka topic name (Kafka's own limit).
const MAX_TOPIC: usize = 249;

/// How the worker decodes message values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ValueFormat {
    Json,
    Bytes,
}

impl ValueFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ValueFormat::Json => "json",
            ValueFormat::Bytes => "bytes",
        }
    }
}

/// The validated `[kafka]` table: the worker's defaults, each overridable at run time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KafkaConfig {
    /// Input topics; empty when they are left to `BLACKLODGE_KAFKA_TOPICS`.
    pub(crate) topics: Vec<String>,
    pub(crate) group_id: Option<String>,
    pub(crate) output_topic: Option<String>,
    pub(crate) dlq_topic: Option<String>,
    pub(crate) value_format: Option<ValueFormat>,
}

impl KafkaConfig {
    /// The launch variables the harness reads (each a default: the container's value wins).
    pub(crate) fn variables(&self) -> Vec<(&'static str, String)> {
        let mut variables = Vec::new();
        if !self.topics.is_empty() {
            variables.push(("BLACKLODGE_KAFKA_TOPICS", self.topics.join(",")));
        }
        for (name, value) in [
            ("BLACKLODGE_KAFKA_GROUP_ID", &self.group_id),
            ("BLACKLODGE_KAFKA_OUTPUT_TOPIC", &self.output_topic),
            ("BLACKLODGE_KAFKA_DLQ_TOPIC", &self.dlq_topic),
        ] {
            if let Some(value) = value {
                variables.push((name, value.clone()));
            }
        }
        if let Some(format) = self.value_format {
            variables.push(("BLACKLODGE_KAFKA_VALUE_FORMAT", format.name().to_string()));
        }
        variables
    }
}

/// Why a topic name is not one Kafka accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopicProblem {
    Empty,
    TooLong(usize),
    /// `.` or `..`.
    Dots,
    /// The characters outside `[A-Za-z0-9._-]`, each once, in order of appearance.
    Characters(Vec<char>),
}

/// Checks a topic name as Kafka does: 1 to 249 characters of `[A-Za-z0-9._-]`, not `.`/`..`.
fn topic_problem(name: &str) -> Option<TopicProblem> {
    let length = name.chars().count();
    if name.is_empty() {
        return Some(TopicProblem::Empty);
    }
    if name == "." || name == ".." {
        return Some(TopicProblem::Dots);
    }
    let mut bad: Vec<char> = Vec::new();
    for c in name.chars() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || bad.contains(&c)) {
            bad.push(c);
        }
    }
    if !bad.is_empty() {
        return Some(TopicProblem::Characters(bad));
    }
    (length > MAX_TOPIC).then_some(TopicProblem::TooLong(length))
}

/// `[kafka]` as written. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawKafka {
    topics: Option<Vec<String>>,
    group_id: Option<String>,
    output_topic: Option<String>,
    dlq_topic: Option<String>,
    value_format: Option<ValueFormat>,
}

fn checked_topic(place: &str, key: &'static str, value: String) -> Result<String, ConfigError> {
    match topic_problem(&value) {
        None => Ok(value),
        Some(problem) => Err(ConfigError::InvalidTopic {
            place: place.to_string(),
            key,
            value,
            problem,
        }),
    }
}

/// Validates `[kafka]`: topic names as Kafka checks them, no topic listed twice, results and
/// dead letters not written to an input topic.
pub(super) fn kafka(origin: &Origin, raw: RawKafka) -> Result<KafkaConfig, ConfigError> {
    let place = origin.kafka_table();
    let mut topics: Vec<String> = Vec::new();
    if let Some(names) = raw.topics {
        if names.is_empty() {
            return Err(ConfigError::NoTopics { place });
        }
        for name in names {
            let name = checked_topic(&place, "topics", name)?;
            if topics.contains(&name) {
                return Err(ConfigError::DuplicateTopic { place, topic: name });
            }
            topics.push(name);
        }
    }
    let mut written = Vec::new();
    for (key, value) in [
        ("output-topic", raw.output_topic),
        ("dlq-topic", raw.dlq_topic),
    ] {
        let topic = value
            .map(|value| checked_topic(&place, key, value))
            .transpose()?;
        if let Some(topic) = &topic
            && topics.contains(topic)
        {
            return Err(ConfigError::TopicLoop {
                place,
                key,
                topic: topic.clone(),
            });
        }
        written.push(topic);
    }
    let dlq_topic = written.pop().flatten();
    let output_topic = written.pop().flatten();
    Ok(KafkaConfig {
        topics,
        group_id: checked_text(&place, "group-id", raw.group_id)?,
        output_topic,
        dlq_topic,
        value_format: raw.value_format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_checked_as_kafka_does() {
        assert_eq!(topic_problem("orders.v1_EU-2"), None);
        assert_eq!(topic_problem(&"t".repeat(249)), None);
        assert_eq!(topic_problem(""), Some(TopicProblem::Empty));
        assert_eq!(topic_problem("."), Some(TopicProblem::Dots));
        assert_eq!(topic_problem(".."), Some(TopicProblem::Dots));
        assert_eq!(topic_problem("..."), None);
        assert_eq!(
            topic_problem(&"t".repeat(250)),
            Some(TopicProblem::TooLong(250))
        );
        assert_eq!(
            topic_problem("orders, payments/eu"),
            Some(TopicProblem::Characters(vec![',', ' ', '/']))
        );
        assert_eq!(
            topic_problem("bestellungen-ä"),
            Some(TopicProblem::Characters(vec!['ä']))
        );
    }
}
