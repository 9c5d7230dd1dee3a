//! A cluster someone else runs, reached by its bootstrap servers.
//!
//! The harness cannot break what it does not own: this backend has no fault operations and
//! says so. Security settings (SASL, TLS) are passed to every client unchanged, e.g.
//! `security.protocol = "SASL_SSL"`, `sasl.mechanism = "SCRAM-SHA-512"`,
//! `sasl.username`, `sasl.password`, `ssl.ca.location`.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::admin;
use super::{Capability, Cluster, ClusterError, ClusterKind, NodeId, NodeOp};

/// An existing cluster.
#[derive(Debug, Clone)]
pub struct ExternalCluster {
    bootstrap: String,
    settings: BTreeMap<String, String>,
}

/// Client settings from a Java-style properties file (`key=value` or `key: value` lines,
/// `#` and `!` comments, `\` continuations and escapes, ISO-8859-1 as Java reads it: the
/// files `kcat -F` and Kafka's `--command-config` take), for every client of an external
/// cluster. `origin` names the file in errors.
pub fn client_properties(
    bytes: &[u8],
    origin: &std::path::Path,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let invalid = |what: String| {
        ClusterError::Invalid(format!(
            "--client-config {}: {what}; expected `key=value` lines as Kafka's \
             --command-config takes them",
            origin.display()
        ))
    };
    // A blank first line changes nothing (Java skips blank lines), and keeps the parser's
    // decoder from sniffing a byte-order mark: the `java-properties` crate panics on a file
    // that starts with part of one (a lone 0xEF), where Java reads ISO-8859-1 characters.
    let mut text = Vec::with_capacity(bytes.len() + 1);
    text.push(b'\n');
    text.extend_from_slice(bytes);
    let map = java_properties::read(&text[..]).map_err(|e| match e.line_number() {
        Some(line) => invalid(format!("line {}: {e}", line.saturating_sub(1).max(1))),
        None => invalid(e.to_string()),
    })?;
    let mut settings = BTreeMap::new();
    for (key, value) in map {
        let key = key.trim().to_owned();
        if key.is_empty() {
            return Err(invalid("a setting has no name".into()));
        }
        settings.insert(key, value.trim().to_owned());
    }
    Ok(settings)
}

/// [`client_properties`] of the file at `path`.
pub fn read_client_properties(
    path: &std::path::Path,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ClusterError::Invalid(format!(
            "--client-config {}: cannot be read ({e}); give the path of a properties file",
            path.display()
        ))
    })?;
    client_properties(&bytes, path)
}

impl ExternalCluster {
    /// A cluster reached at `bootstrap` (`host:port,host:port`), with extra client settings.
    pub fn new(
        bootstrap: impl Into<String>,
        settings: BTreeMap<String, String>,
    ) -> Result<ExternalCluster, ClusterError> {
        let bootstrap = bootstrap.into();
        let well_formed = !bootstrap.is_empty()
            && bootstrap.split(',').all(|hp| {
                hp.rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            });
        if !well_formed {
            return Err(ClusterError::Invalid(format!(
                "bootstrap servers `{bootstrap}`: expected host:port[,host:port...] like \
                 \"127.0.0.1:9092\""
            )));
        }
        if settings.contains_key("bootstrap.servers") {
            return Err(ClusterError::Invalid(
                "`bootstrap.servers` is given separately (--bootstrap); remove it from the \
                 client settings"
                    .into(),
            ));
        }
        Ok(ExternalCluster {
            bootstrap,
            settings,
        })
    }

    /// Fails unless a client can fetch metadata from the cluster.
    pub async fn check_reachable(&self) -> Result<(), ClusterError> {
        admin::broker_count(&self.client_config()).await.map(drop)
    }
}

#[async_trait]
impl Cluster for ExternalCluster {
    fn kind(&self) -> ClusterKind {
        ClusterKind::External
    }

    fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    fn client_config(&self) -> BTreeMap<String, String> {
        let mut config = self.settings.clone();
        config.insert("bootstrap.servers".into(), self.bootstrap.clone());
        config
    }

    fn kafka_version(&self) -> Option<String> {
        None
    }

    fn node_ids(&self) -> Vec<NodeId> {
        Vec::new()
    }

    fn capabilities(&self) -> Vec<Capability> {
        ClusterKind::External.capabilities()
    }

    async fn apply(&self, node: NodeId, op: NodeOp) -> Result<(), ClusterError> {
        Err(ClusterError::Unsupported {
            kind: ClusterKind::External,
            what: format!(
                "{op} node {node}: the harness does not own an external cluster's brokers; \
                 use --cluster embedded for fault scenarios"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_is_checked() {
        assert!(ExternalCluster::new("127.0.0.1:9092,h:1", BTreeMap::new()).is_ok());
        for bad in ["", "localhost", "h:notaport", ":9092", "a:1,"] {
            assert!(
                matches!(
                    ExternalCluster::new(bad, BTreeMap::new()),
                    Err(ClusterError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn client_properties_read_as_kafka_reads_them() {
        let file = b"# SASL to the managed cluster\n\
            security.protocol=SASL_SSL\n\
            sasl.mechanism : SCRAM-SHA-512\n\
            ! another comment\n\
            sasl.username = svc-webhooks\n\
            sasl.password=pa\\u00dfword with = and spaces  \n\
            ssl.ca.location=/etc/ssl/ca.pem\n\
            sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n  required;\n";
        let settings = client_properties(file, std::path::Path::new("client.properties")).unwrap();
        assert_eq!(settings["security.protocol"], "SASL_SSL");
        assert_eq!(settings["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(settings["sasl.username"], "svc-webhooks");
        assert_eq!(settings["sasl.password"], "pa\u{df}word with = and spaces");
        assert_eq!(
            settings["sasl.jaas.config"],
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        );
        assert_eq!(settings.len(), 6);
        // What the fuzzer found: a file starting with part of a byte-order mark panicked
        // the parser. Java reads those bytes as ISO-8859-1 characters of the first key.
        for odd in [
            &b"\xef"[..],
            b"\xef\xbb",
            b"\xfe",
            b"\xff",
            b"\xef\xbb\xbfa=b",
        ] {
            let read = client_properties(odd, std::path::Path::new("odd.properties"));
            assert!(read.is_ok_and(|s| s.len() == 1), "{odd:?}");
        }
        let e =
            read_client_properties(std::path::Path::new("/no/such/client.properties")).unwrap_err();
        assert!(
            e.is_bad_input() && e.to_string().contains("/no/such/client.properties"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn faults_are_refused_with_a_reason() {
        let c = ExternalCluster::new("127.0.0.1:1", BTreeMap::new()).unwrap();
        assert!(c.capabilities().is_empty());
        let err = c.apply(1, NodeOp::Kill).await.unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("does not own"), "{err}");
    }
}
