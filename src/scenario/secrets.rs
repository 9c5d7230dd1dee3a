//! Which client and broker settings are secrets, and how they are shown: the one list every
//! output of the harness redacts by (`result.json`, `report.html`, `junit.xml`, the
//! terminal, progress lines, error messages, tracing).
//!
//! A setting is secret when its name (Kafka's spelling, case-insensitive) is one of:
//!
//! | pattern | examples |
//! |---|---|
//! | ends in `password` | `sasl.password`, `ssl.key.password`, `ssl.keystore.password`, `ssl.truststore.password` |
//! | ends in `sasl.jaas.config` | Java's JAAS line, which holds the password (also a broker's `listener.name.<l>.<mechanism>.sasl.jaas.config`) |
//! | starts with `ssl.key` | `ssl.key.pem`, `ssl.keystore.key`, `ssl.keystore.certificate.chain` |
//! | holds `secret`, `token` or `credential` | `api.secret`, `sasl.oauthbearer.token`, `aws.credentials` |
//!
//! except names ending in `.location`, `.url`, `.type` or `.mechanism` (where a secret is
//! kept, or what kind it is: `ssl.key.location`, `sasl.oauthbearer.token.endpoint.url`).
//!
//! The value of a secret setting is shown as [`REDACTED`].

use std::collections::BTreeMap;

/// What a secret value is shown as.
pub const REDACTED: &str = "[redacted]";

/// Whether the setting `key` holds a secret (see the module's list).
pub fn is_secret(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    // Where a secret lives, or what kind it is, is no secret.
    if [".location", ".url", ".type", ".mechanism"]
        .iter()
        .any(|end| k.ends_with(end))
    {
        return false;
    }
    k.ends_with("password")
        || k.ends_with("sasl.jaas.config")
        || k.starts_with("ssl.key")
        || ["secret", "token", "credential"]
            .iter()
            .any(|word| k.contains(word))
}

/// `settings` with every secret value replaced by [`REDACTED`].
pub fn redacted(settings: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    settings
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret(k) { REDACTED } else { v.as_str() };
            (k.clone(), shown.to_owned())
        })
        .collect()
}

/// Serializes `settings` [`redacted`]: what every output of a plan shows (`result.json`'s
/// `plan`, the report).
pub fn serialize_redacted<S: serde::Serializer>(
    settings: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&redacted(settings), serializer)
}

/// The secret values among `settings` (non-empty ones), to scrub from text that may
/// quote them (an error message from a client library, say).
pub fn values(settings: &BTreeMap<String, String>) -> Vec<String> {
    settings
        .iter()
        .filter(|(k, v)| is_secret(k) && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

impl super::Plan {
    /// Every secret value the scenario's settings hold (client settings of every table,
    /// broker configs), to [`scrub`] from text that may quote them.
    pub fn secrets(&self) -> Vec<String> {
        let tables = self
            .producers
            .iter()
            .map(|p| &p.client)
            .chain(self.consumers.iter().map(|c| &c.client))
            .chain(self.stages.iter().map(|s| &s.client))
            .chain(std::iter::once(&self.cluster.broker_config));
        tables.flat_map(values).collect()
    }
}

/// `text` with every occurrence of each of `secrets` replaced by [`REDACTED`] (the longest
/// first, so a secret holding another is hidden whole).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in sorted {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised_and_others_are_not() {
        for key in [
            "sasl.password",
            "SASL.PASSWORD",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "sasl.jaas.config",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.token",
            "ssl.key.pem",
            "ssl.keystore.key",
            "api.secret",
            "aws.credentials",
        ] {
            assert!(is_secret(key), "{key}");
        }
        for key in [
            "sasl.username",
            "sasl.mechanism",
            "security.protocol",
            "ssl.ca.location",
            "ssl.keystore.location",
            "ssl.keystore.type",
            "ssl.key.location",
            "sasl.oauthbearer.token.endpoint.url",
            "acks",
            "bootstrap.servers",
        ] {
            assert!(!is_secret(key), "{key}");
        }
    }

    #[test]
    fn redaction_hides_values_and_keeps_names() {
        let settings = BTreeMap::from([
            ("sasl.username".to_owned(), "alice".to_owned()),
            ("sasl.password".to_owned(), "hunter2".to_owned()),
        ]);
        let shown = redacted(&settings);
        assert_eq!(shown["sasl.username"], "alice");
        assert_eq!(shown["sasl.password"], REDACTED);
        let secrets = values(&settings);
        assert_eq!(secrets, ["hunter2"]);
        assert_eq!(
            scrub("login failed for alice with hunter2 (hunter2)", &secrets),
            "login failed for alice with [redacted] ([redacted])"
        );
        assert_eq!(
            scrub("ab abc", &["ab".into(), "abc".into()]),
            "[redacted] [redacted]"
        );
    }
}
