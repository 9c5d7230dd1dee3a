//! Secured embedded clusters: SASL (SCRAM-SHA-256/512, PLAIN), TLS (optionally mutual),
//! users, and ACLs enforced by KRaft's `StandardAuthorizer`.
//!
//! ```text
//!   Security ─prepare()─> <cluster>/security/ (0700; every file 0600)
//!                            ca.pem                the cluster's own CA (rcgen)
//!                            broker.pem            key + chain for 127.0.0.1 and localhost
//!                            <user>.pem/.key.pem   client certificates (mutual TLS only)
//!                            format.args           `--add-scram` lines for the StorageTool,
//!                                                  read by `java @file`: never on a command line
//!                            client.properties     librdkafka keys for the harness's own user
//!                            client-java.properties the same for a Java client
//! ```
//!
//! Each node listens three times: `CLIENT` (the secured listener clients bootstrap from),
//! and `PLAINTEXT` (broker to broker, and the harness's own probes) and `CONTROLLER`, both
//! on 127.0.0.1 only. The two internal listeners authenticate nobody, so their principal,
//! `User:ANONYMOUS`, is a super user beside the harness's own user `kafka-harness`: anyone
//! who can open a socket on this machine's loopback can reach them. That is the price of
//! keeping the quorum simple; the secured listener is the one clients are given.
//!
//! SCRAM credentials are written when the storage is formatted (`kafka-storage format
//! --add-scram`, Kafka 3.5 and later); PLAIN users live in the broker's JAAS line in its
//! `server.properties` (0600). ACLs are created through the internal listener after start.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cluster::ClusterError;

/// The principal the harness's own clients (admin, log reader) connect as; a super user.
pub const ADMIN_USER: &str = "kafka-harness";

/// The security protocol of the client listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// No authentication, no encryption (today's behaviour).
    #[default]
    Plaintext,
    /// SASL without TLS.
    SaslPlaintext,
    /// TLS; mutual when [`Security::mutual_tls`] is set.
    Ssl,
    /// SASL over TLS.
    SaslSsl,
}

impl Protocol {
    /// Kafka's name for it (`SASL_SSL`).
    pub fn kafka_name(self) -> &'static str {
        match self {
            Protocol::Plaintext => "PLAINTEXT",
            Protocol::SaslPlaintext => "SASL_PLAINTEXT",
            Protocol::Ssl => "SSL",
            Protocol::SaslSsl => "SASL_SSL",
        }
    }
    /// Whether clients authenticate with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }
    /// Whether the listener speaks TLS.
    pub fn tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kafka_name().to_ascii_lowercase())
    }
}

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
    /// PLAIN (the password travels as is: use it over TLS).
    Plain,
}

impl Mechanism {
    /// Kafka's name for it.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::Plain => "PLAIN",
        }
    }
    fn login_module(self) -> &'static str {
        match self {
            Mechanism::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
            _ => "org.apache.kafka.common.security.scram.ScramLoginModule",
        }
    }
}

/// A user the cluster knows.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The principal's name (`User:<name>`).
    pub name: String,
    /// Its password (kept in files of the cluster's folder only).
    pub password: String,
    /// How it authenticates.
    pub mechanism: Mechanism,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password is left out: debug output may end up in a log.
        f.debug_struct("User")
            .field("name", &self.name)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// What an ACL is about (Kafka's resource types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// A topic.
    Topic = 2,
    /// A consumer group.
    Group = 3,
    /// The cluster (its name is `kafka-cluster`).
    Cluster = 4,
    /// A transactional id.
    TransactionalId = 5,
}

/// How an ACL's resource name matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    /// The name exactly (`*` means every resource).
    Literal = 3,
    /// Every name starting with it.
    Prefixed = 4,
}

/// What an ACL allows or denies (Kafka's operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Every operation.
    All = 2,
    /// Read.
    Read = 3,
    /// Write.
    Write = 4,
    /// Create.
    Create = 5,
    /// Delete.
    Delete = 6,
    /// Alter.
    Alter = 7,
    /// Describe.
    Describe = 8,
    /// ClusterAction.
    ClusterAction = 9,
    /// DescribeConfigs.
    DescribeConfigs = 10,
    /// AlterConfigs.
    AlterConfigs = 11,
    /// IdempotentWrite.
    IdempotentWrite = 12,
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// The user it applies to (`*` for every user).
    pub principal: String,
    /// The kind of resource.
    pub resource_type: ResourceType,
    /// The resource's name (or prefix).
    pub resource_name: String,
    /// How the name matches.
    pub pattern: PatternType,
    /// The operation.
    pub operation: Operation,
    /// Allow (`true`) or deny.
    pub allow: bool,
}

impl Acl {
    /// Kafka's principal string: `User:<name>`, or `User:*`.
    pub fn kafka_principal(&self) -> String {
        format!("User:{}", self.principal)
    }
}

/// How an embedded cluster's client listener is secured; the default is plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// The client listener's protocol.
    pub protocol: Protocol,
    /// TLS listeners require a client certificate (`ssl.client.auth=required`).
    pub mutual_tls: bool,
    /// The mechanism of the harness's own user.
    pub mechanism: Mechanism,
    /// Users to create.
    pub users: Vec<User>,
    /// Turn on `StandardAuthorizer` (implied by any ACL).
    pub authorizer: bool,
    /// ACLs to create once the cluster runs.
    pub acls: Vec<Acl>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            protocol: Protocol::Plaintext,
            mutual_tls: false,
            mechanism: Mechanism::ScramSha512,
            users: Vec::new(),
            authorizer: false,
            acls: Vec::new(),
        }
    }
}

impl Security {
    /// Whether this is anything but plaintext without an authorizer.
    pub fn secured(&self) -> bool {
        self.protocol != Protocol::Plaintext || self.authorizer || !self.acls.is_empty()
    }

    fn authorizes(&self) -> bool {
        self.authorizer || !self.acls.is_empty()
    }

    /// Refuses users and settings a secured cluster cannot take.
    pub fn check(&self) -> Result<(), ClusterError> {
        let bad = |m: String| Err(ClusterError::Invalid(m));
        if self.mutual_tls && !self.protocol.tls() {
            return bad(format!(
                "mutual TLS needs a TLS listener (ssl or sasl_ssl), not {}",
                self.protocol
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            if let Some(problem) = name_problem(&u.name) {
                return bad(format!("user {i} `{}`: {problem}", u.name));
            }
            if u.name == ADMIN_USER {
                return bad(format!(
                    "user `{ADMIN_USER}` is the harness's own; pick another name"
                ));
            }
            if let Some(problem) = password_problem(&u.password) {
                return bad(format!("the password of user `{}`: {problem}", u.name));
            }
        }
        Ok(())
    }

    /// The password of `user`, when the cluster knows it.
    fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// Why `name` cannot be a user name, if it cannot.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then_some("a user name is 1 to 64 letters, digits, `-`, `_` or `.`")
}

/// Why `password` cannot be a password, if it cannot.
pub fn password_problem(password: &str) -> Option<&'static str> {
    let ok = (1..=128).contains(&password.len())
        && password.chars().all(|c| {
            c.is_ascii_graphic() && !matches!(c, ',' | '[' | ']' | '"' | '\'' | '=' | '\\' | '#')
        });
    (!ok).then_some(
        "a password is 1 to 128 printable ASCII characters without spaces or any of , [ ] \" ' = \\ #",
    )
}

/// The files and secrets of one secured cluster, made by [`prepare`].
#[derive(Debug)]
pub struct Prepared {
    /// What was asked for.
    pub security: Security,
    /// `<cluster>/security`.
    pub dir: PathBuf,
    admin_password: String,
}

impl Prepared {
    /// The CA certificate clients trust.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    fn broker_pem(&self) -> PathBuf {
        self.dir.join("broker.pem")
    }
    /// A user's client certificate (mutual TLS).
    pub fn cert_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.pem"))
    }
    /// A user's private key (mutual TLS).
    pub fn key_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.key.pem"))
    }
    /// The StorageTool's argument file (`java @file`).
    pub fn format_args_path(&self) -> PathBuf {
        self.dir.join("format.args")
    }
    /// The librdkafka-style client properties of the harness's own user.
    pub fn client_properties_path(&self) -> PathBuf {
        self.dir.join("client.properties")
    }
    /// The Java client's properties of the harness's own user.
    pub fn java_properties_path(&self) -> PathBuf {
        self.dir.join("client-java.properties")
    }

    /// The broker settings of the secured listener, for every node.
    pub fn broker_properties(&self) -> BTreeMap<String, String> {
        let s = &self.security;
        let mut p = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            p.insert(k.to_owned(), v);
        };
        if s.protocol.sasl() {
            let mechanisms = self.mechanisms();
            set(
                "sasl.enabled.mechanisms",
                mechanisms
                    .iter()
                    .map(|m| m.kafka_name())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            for m in &mechanisms {
                let key = format!(
                    "listener.name.client.{}.sasl.jaas.config",
                    m.kafka_name().to_ascii_lowercase()
                );
                let mut line = format!("{} required", m.login_module());
                if *m == Mechanism::Plain {
                    for u in self.plain_users() {
                        line.push_str(&format!(" user_{}=\"{}\"", u.0, u.1));
                    }
                }
                line.push(';');
                set(&key, line);
            }
        }
        if s.protocol.tls() {
            let l = "listener.name.client.ssl";
            set(&format!("{l}.keystore.type"), "PEM".into());
            set(
                &format!("{l}.keystore.location"),
                self.broker_pem().display().to_string(),
            );
            set(&format!("{l}.truststore.type"), "PEM".into());
            set(
                &format!("{l}.truststore.location"),
                self.ca_path().display().to_string(),
            );
            set(
                &format!("{l}.client.auth"),
                if s.mutual_tls { "required" } else { "none" }.into(),
            );
            // A client certificate's subject `CN=name` is the principal `User:name`.
            set(
                "ssl.principal.mapping.rules",
                "RULE:^CN=([^,]+)$/$1/,DEFAULT".into(),
            );
        }
        if s.authorizes() {
            set(
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
            );
            set("super.users", format!("User:ANONYMOUS;User:{ADMIN_USER}"));
        }
        p
    }

    /// Every mechanism in use: the harness's own and its users'.
    fn mechanisms(&self) -> Vec<Mechanism> {
        let mut all: Vec<Mechanism> = std::iter::once(self.security.mechanism)
            .chain(self.security.users.iter().map(|u| u.mechanism))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// (name, password) of every PLAIN user, the harness's own included when it uses PLAIN.
    fn plain_users(&self) -> Vec<(&str, &str)> {
        let mut users: Vec<(&str, &str)> = self
            .security
            .users
            .iter()
            .filter(|u| u.mechanism == Mechanism::Plain)
            .map(|u| (u.name.as_str(), u.password.as_str()))
            .collect();
        if self.security.mechanism == Mechanism::Plain {
            users.push((ADMIN_USER, &self.admin_password));
        }
        users
    }

    /// The StorageTool's arguments after `-c FILE`: one `--add-scram` per SCRAM user.
    fn scram_args(&self) -> Vec<String> {
        let admin = (
            ADMIN_USER,
            self.admin_password.as_str(),
            self.security.mechanism,
        );
        std::iter::once(admin)
            .chain(
                self.security
                    .users
                    .iter()
                    .map(|u| (u.name.as_str(), u.password.as_str(), u.mechanism)),
            )
            .filter(|(_, _, m)| *m != Mechanism::Plain && self.security.protocol.sasl())
            .flat_map(|(name, password, m)| {
                [
                    "--add-scram".to_owned(),
                    format!("{}=[name={name},password={password}]", m.kafka_name()),
                ]
            })
            .collect()
    }

    /// Writes the StorageTool's argument file for one node: the main class, `format`, the
    /// cluster id, its config and the SCRAM credentials, so none of them is on a command line.
    pub fn write_format_args(
        &self,
        cluster_id: &str,
        config: &Path,
    ) -> Result<PathBuf, ClusterError> {
        let mut args = vec![
            "kafka.tools.StorageTool".to_owned(),
            "format".into(),
            "-t".into(),
            cluster_id.to_owned(),
            "-c".into(),
            quote_arg(&config.display().to_string()),
        ];
        args.extend(self.scram_args());
        let path = self
            .dir
            .join(format!("format-{}.args", config_stem(config)));
        write_private(&path, &(args.join("\n") + "\n"))?;
        Ok(path)
    }

    /// librdkafka settings (without `bootstrap.servers`) for `user`, or for the harness's
    /// own super user when `None`. A user the cluster does not know is refused.
    pub fn client_settings(
        &self,
        user: Option<&str>,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        let s = &self.security;
        let (name, password, mechanism) = match user {
            None | Some(ADMIN_USER) => (ADMIN_USER, self.admin_password.as_str(), s.mechanism),
            Some(name) => match s.user(name) {
                Some(u) => (u.name.as_str(), u.password.as_str(), u.mechanism),
                None => {
                    let known: Vec<&str> = s.users.iter().map(|u| u.name.as_str()).collect();
                    return Err(ClusterError::Invalid(format!(
                        "no user `{name}` in this cluster (users: {known:?})"
                    )));
                }
            },
        };
        let mut out = BTreeMap::new();
        out.insert(
            "security.protocol".to_owned(),
            s.protocol.kafka_name().to_ascii_lowercase(),
        );
        if s.protocol.sasl() {
            out.insert("sasl.mechanism".into(), mechanism.kafka_name().into());
            out.insert("sasl.username".into(), name.into());
            out.insert("sasl.password".into(), password.into());
        }
        if s.protocol.tls() {
            out.insert(
                "ssl.ca.location".into(),
                self.ca_path().display().to_string(),
            );
            if s.mutual_tls {
                out.insert(
                    "ssl.certificate.location".into(),
                    self.cert_path(name).display().to_string(),
                );
                out.insert(
                    "ssl.key.location".into(),
                    self.key_path(name).display().to_string(),
                );
            }
        }
        Ok(out)
    }

    /// The Java client's settings for the harness's own user.
    fn java_settings(&self) -> BTreeMap<String, String> {
        let s = &self.security;
        let mut out = BTreeMap::new();
        out.insert(
            "security.protocol".to_owned(),
            s.protocol.kafka_name().to_owned(),
        );
        if s.protocol.sasl() {
            out.insert("sasl.mechanism".into(), s.mechanism.kafka_name().into());
            out.insert(
                "sasl.jaas.config".into(),
                format!(
                    "{} required username=\"{ADMIN_USER}\" password=\"{}\";",
                    s.mechanism.login_module(),
                    self.admin_password
                ),
            );
        }
        if s.protocol.tls() {
            out.insert("ssl.truststore.type".into(), "PEM".into());
            out.insert(
                "ssl.truststore.location".into(),
                self.ca_path().display().to_string(),
            );
            if s.mutual_tls {
                out.insert("ssl.keystore.type".into(), "PEM".into());
                out.insert(
                    "ssl.keystore.location".into(),
                    self.dir
                        .join(format!("{ADMIN_USER}.keystore.pem"))
                        .display()
                        .to_string(),
                );
            }
        }
        out
    }

    /// Writes `client.properties` (librdkafka keys) and `client-java.properties` (Java
    /// client keys) for the harness's own user, each with `bootstrap.servers`.
    pub fn write_client_properties(&self, bootstrap: &str) -> Result<(), ClusterError> {
        let render = |settings: BTreeMap<String, String>, what: &str| {
            let mut text = format!(
                "# Written by kafka-harness: {what} for this cluster's super user.\n\
                 bootstrap.servers={bootstrap}\n"
            );
            for (k, v) in settings {
                text.push_str(&format!("{k}={}\n", escape_property(&v)));
            }
            text
        };
        let librdkafka = self.client_settings(None)?;
        write_private(
            &self.client_properties_path(),
            &render(
                librdkafka,
                "librdkafka-style settings (kcat -F, confluent-kafka)",
            ),
        )?;
        write_private(
            &self.java_properties_path(),
            &render(
                self.java_settings(),
                "Java client settings (--command-config)",
            ),
        )
    }
}

/// Makes `<root>/security` and, for TLS, the CA and certificates; picks the harness's own
/// password.
pub fn prepare(security: &Security, root: &Path) -> Result<Prepared, ClusterError> {
    security.check()?;
    let dir = root.join("security");
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(ClusterError::io(format!("creating {}", dir.display())))?;
    let admin_password = format!("{:032x}", rand::random::<u128>());
    let prepared = Prepared {
        security: security.clone(),
        dir,
        admin_password,
    };
    if security.protocol.tls() {
        write_certificates(&prepared)?;
    }
    Ok(prepared)
}

/// A CA, the brokers' certificate and, for mutual TLS, one client certificate per user.
fn write_certificates(p: &Prepared) -> Result<(), ClusterError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let tls = |e: rcgen::Error| ClusterError::Invalid(format!("making certificates: {e}"));
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kafka-harness cluster CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(tls)?;
    write_private(&p.ca_path(), &ca_cert.pem())?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(tls)?;
    let mut broker = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(tls)?;
    broker
        .distinguished_name
        .push(DnType::CommonName, "kafka-harness broker");
    broker.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = broker.signed_by(&key, &issuer).map_err(tls)?;
    write_private(
        &p.broker_pem(),
        &format!("{}{}{}", key.serialize_pem(), cert.pem(), ca_cert.pem()),
    )?;

    if p.security.mutual_tls {
        let names =
            std::iter::once(ADMIN_USER).chain(p.security.users.iter().map(|u| u.name.as_str()));
        for name in names {
            let key = KeyPair::generate().map_err(tls)?;
            let mut client = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
            client.distinguished_name.push(DnType::CommonName, name);
            client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = client.signed_by(&key, &issuer).map_err(tls)?;
            write_private(&p.cert_path(name), &cert.pem())?;
            write_private(&p.key_path(name), &key.serialize_pem())?;
            if name == ADMIN_USER {
                write_private(
                    &p.dir.join(format!("{ADMIN_USER}.keystore.pem")),
                    &format!("{}{}", key.serialize_pem(), cert.pem()),
                )?;
            }
        }
    }
    Ok(())
}

/// Writes `text` to a new file only its owner can read (0600).
pub fn write_private(path: &Path, text: &str) -> Result<(), ClusterError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(ClusterError::io(format!("creating {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(ClusterError::io(format!("writing {}", path.display())))
}

/// A Java properties value: backslashes escaped.
fn escape_property(value: &str) -> String {
    value.replace('\\', "\\\\")
}

/// An argument-file token: quoted when it holds a space.
fn quote_arg(arg: &str) -> String {
    if arg.contains(char::is_whitespace) {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        arg.to_owned()
    }
}

/// The node's folder name, to name its argument file.
fn config_stem(config: &Path) -> String {
    config
        .parent()
        .and_then(Path::file_name)
        .map_or_else(|| "node".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secured(protocol: Protocol, mutual_tls: bool) -> Security {
        Security {
            protocol,
            mutual_tls,
            users: vec![
                User {
                    name: "compliance-svc".into(),
                    password: "c0mpl!ance".into(),
                    mechanism: Mechanism::ScramSha256,
                },
                User {
                    name: "bridge".into(),
                    password: "plain-pw".into(),
                    mechanism: Mechanism::Plain,
                },
            ],
            acls: vec![Acl {
                principal: "compliance-svc".into(),
                resource_type: ResourceType::Topic,
                resource_name: "t".into(),
                pattern: PatternType::Literal,
                operation: Operation::Write,
                allow: true,
            }],
            ..Security::default()
        }
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn sasl_ssl_writes_private_files_and_wires_the_listener() {
        let root = tempfile::tempdir().unwrap();
        let p = prepare(&secured(Protocol::SaslSsl, true), root.path()).unwrap();
        assert_eq!(mode(&p.dir), 0o700);
        for f in fs::read_dir(&p.dir).unwrap() {
            assert_eq!(mode(&f.unwrap().path()), 0o600);
        }
        let props = p.broker_properties();
        assert_eq!(
            props["sasl.enabled.mechanisms"],
            "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN"
        );
        assert!(
            props["listener.name.client.plain.sasl.jaas.config"]
                .contains("user_bridge=\"plain-pw\"")
        );
        assert_eq!(props["listener.name.client.ssl.client.auth"], "required");
        assert!(props["super.users"].contains("User:kafka-harness"));
        let args = p.scram_args().join(" ");
        assert!(args.contains("SCRAM-SHA-256=[name=compliance-svc,password=c0mpl!ance]"));
        assert!(
            !args.contains("bridge"),
            "PLAIN users are not SCRAM credentials"
        );
        let c = p.client_settings(Some("compliance-svc")).unwrap();
        assert_eq!(c["security.protocol"], "sasl_ssl");
        assert_eq!(c["sasl.mechanism"], "SCRAM-SHA-256");
        assert!(c["ssl.certificate.location"].ends_with("compliance-svc.pem"));
        assert!(p.client_settings(Some("nobody")).is_err());
    }

    #[test]
    fn bad_names_passwords_and_mutual_tls_without_tls_are_refused() {
        let mut s = secured(Protocol::SaslPlaintext, true);
        assert!(s.check().is_err());
        s.mutual_tls = false;
        assert!(s.check().is_ok());
        s.users[0].password = "a,b".into();
        assert!(s.check().is_err());
        s.users[0].password = "ok".into();
        s.users[0].name = "a b".into();
        assert!(s.check().is_err());
    }
}
