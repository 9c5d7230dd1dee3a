//! The `[cluster.security]` table: how an embedded cluster's client listener is secured,
//! the users it knows and the ACLs its authorizer enforces; and the `principal` and `expect`
//! keys of producer and consumer tables. The keys are documented in `docs/security.md`.
//!
//! ```text
//!   [cluster.security]  protocol, mechanism, mutual_tls, authorizer
//!   [[cluster.security.users]]  name, password, mechanism
//!   [[cluster.security.acls]]   principal, resource, name, pattern, operation, permission
//!   [[producers]] principal = "compliance-svc", expect = "refused"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::{Locator, ScenarioError, secrets};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    protocol: Spanned<String>,
    mechanism: Option<Spanned<String>>,
    #[serde(default)]
    mutual_tls: bool,
    authorizer: Option<bool>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    acls: Vec<RawAcl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    password: Spanned<String>,
    mechanism: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcl {
    principal: Spanned<String>,
    resource: Spanned<String>,
    name: Spanned<String>,
    pattern: Option<Spanned<String>>,
    operation: Spanned<String>,
    permission: Option<Spanned<String>>,
}

/// The client listener's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// No authentication, no encryption.
    #[default]
    Plaintext,
    /// SASL without TLS.
    SaslPlaintext,
    /// TLS.
    Ssl,
    /// SASL over TLS.
    SaslSsl,
}

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// PLAIN.
    #[serde(rename = "PLAIN")]
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
}

/// A user of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserPlan {
    /// Its name (principal `User:<name>`).
    pub name: String,
    /// Its password; shown redacted.
    #[serde(serialize_with = "redact")]
    pub password: String,
    /// How it authenticates.
    pub mechanism: Mechanism,
}

/// One ACL; every field is Kafka's vocabulary in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclPlan {
    /// A declared user's name, or `*`.
    pub principal: String,
    /// `topic`, `group`, `cluster` or `transactional_id`.
    pub resource: String,
    /// The resource's name (`kafka-cluster` for the cluster), or prefix.
    pub name: String,
    /// `literal` or `prefixed`.
    pub pattern: String,
    /// `all`, `read`, `write`, `create`, `delete`, `alter`, `describe`, `cluster_action`,
    /// `describe_configs`, `alter_configs` or `idempotent_write`.
    pub operation: String,
    /// `allow` or `deny`.
    pub permission: String,
}

/// The resource types an ACL may name.
pub const RESOURCES: &[&str] = &["topic", "group", "cluster", "transactional_id"];
/// The operations an ACL may name.
pub const OPERATIONS: &[&str] = &[
    "all",
    "read",
    "write",
    "create",
    "delete",
    "alter",
    "describe",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
];

/// `[cluster.security]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SecurityPlan {
    /// The client listener's protocol.
    pub protocol: Protocol,
    /// The harness's own user's mechanism (SASL protocols).
    pub mechanism: Option<Mechanism>,
    /// TLS listeners require client certificates.
    pub mutual_tls: bool,
    /// StandardAuthorizer on (default: on when ACLs are declared).
    pub authorizer: bool,
    /// Users to create.
    pub users: Vec<UserPlan>,
    /// ACLs to create.
    pub acls: Vec<AclPlan>,
}

impl SecurityPlan {
    /// The client settings of a table that connects as `principal`: its SASL login.
    fn login(&self, principal: &str) -> BTreeMap<String, String> {
        self.users
            .iter()
            .find(|u| u.name == principal)
            .map(|u| {
                BTreeMap::from([
                    (
                        "sasl.mechanism".to_owned(),
                        u.mechanism.kafka_name().to_owned(),
                    ),
                    ("sasl.username".to_owned(), u.name.clone()),
                    ("sasl.password".to_owned(), u.password.clone()),
                ])
            })
            .unwrap_or_default()
    }
}

/// What a producer table expects of the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Its sends are accepted; a send refused for authorization fails the run.
    #[default]
    Accepted,
    /// Every send is refused for authorization (the table's principal lacks WRITE).
    Refused,
}

fn redact<S: Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secrets::REDACTED)
}

/// Client settings serialized with their secrets redacted.
pub(super) fn redact_map<S: Serializer>(
    map: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    secrets::redacted(map).serialize(s)
}

fn mechanism(
    at: &Locator<'_>,
    field: &str,
    m: &Spanned<String>,
) -> Result<Mechanism, ScenarioError> {
    match m.get_ref().to_ascii_uppercase().as_str() {
        "SCRAM-SHA-256" => Ok(Mechanism::ScramSha256),
        "SCRAM-SHA-512" => Ok(Mechanism::ScramSha512),
        "PLAIN" => Ok(Mechanism::Plain),
        _ => Err(at.field(
            field,
            m,
            "expected \"SCRAM-SHA-256\", \"SCRAM-SHA-512\" or \"PLAIN\"",
        )),
    }
}

fn one_of(
    at: &Locator<'_>,
    field: &str,
    value: &Spanned<String>,
    allowed: &[&str],
) -> Result<String, ScenarioError> {
    let v = value.get_ref().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(at.field(
            field,
            value,
            &format!("expected one of {}", allowed.join(", ")),
        ))
    }
}

/// Validates `[cluster.security]`.
pub(super) fn validate(at: &Locator<'_>, raw: &RawSecurity) -> Result<SecurityPlan, ScenarioError> {
    let f = |k: &str| format!("cluster.security.{k}");
    let protocol = match raw.protocol.get_ref().to_ascii_lowercase().as_str() {
        "plaintext" => Protocol::Plaintext,
        "sasl_plaintext" => Protocol::SaslPlaintext,
        "ssl" => Protocol::Ssl,
        "sasl_ssl" => Protocol::SaslSsl,
        _ => {
            return Err(at.field(
                &f("protocol"),
                &raw.protocol,
                "expected \"plaintext\", \"sasl_plaintext\", \"ssl\" or \"sasl_ssl\"",
            ));
        }
    };
    let sasl = matches!(protocol, Protocol::SaslPlaintext | Protocol::SaslSsl);
    let tls = matches!(protocol, Protocol::Ssl | Protocol::SaslSsl);
    if raw.mutual_tls && !tls {
        return Err(at.field(
            &f("protocol"),
            &raw.protocol,
            "`mutual_tls = true` needs a TLS listener: protocol = \"ssl\" or \"sasl_ssl\"",
        ));
    }
    let own = raw
        .mechanism
        .as_ref()
        .map(|m| mechanism(at, &f("mechanism"), m))
        .transpose()?;
    let mut users: Vec<UserPlan> = Vec::new();
    for (i, u) in raw.users.iter().enumerate() {
        let g = |k: &str| format!("cluster.security.users[{i}].{k}");
        let name = u.name.get_ref();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok || name == "kafka-harness" || users.iter().any(|o| &o.name == name) {
            return Err(at.field(
                &g("name"),
                &u.name,
                "a user name is 1 to 64 letters, digits, `-`, `_` or `.`, used once, and not `kafka-harness` (the harness's own)",
            ));
        }
        let pw = u.password.get_ref();
        let ok = (1..=128).contains(&pw.len())
            && pw.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(c, ',' | '[' | ']' | '"' | '\'' | '=' | '\\' | '#')
            });
        if !ok {
            return Err(at.error(
                u.password.span(),
                format!(
                    "`{} = {}`: a password is 1 to 128 printable ASCII characters without spaces or any of , [ ] \" ' = \\ #",
                    g("password"),
                    secrets::REDACTED
                ),
            ));
        }
        users.push(UserPlan {
            name: name.clone(),
            password: pw.clone(),
            mechanism: match &u.mechanism {
                Some(m) => mechanism(at, &g("mechanism"), m)?,
                None => Mechanism::ScramSha512,
            },
        });
    }
    if !users.is_empty() && !sasl && !raw.mutual_tls {
        return Err(at.field(
            &f("protocol"),
            &raw.protocol,
            "users authenticate with SASL or a client certificate: use \"sasl_plaintext\" or \"sasl_ssl\", or \"ssl\" with `mutual_tls = true`",
        ));
    }
    let mut acls = Vec::new();
    for (i, a) in raw.acls.iter().enumerate() {
        let g = |k: &str| format!("cluster.security.acls[{i}].{k}");
        let principal = a.principal.get_ref();
        if principal != "*" && !users.iter().any(|u| &u.name == principal) {
            let known: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
            return Err(at.field(
                &g("principal"),
                &a.principal,
                &format!(
                    "no such user; declared in [[cluster.security.users]]: {known:?} (or \"*\")"
                ),
            ));
        }
        let resource = one_of(at, &g("resource"), &a.resource, RESOURCES)?;
        if a.name.get_ref().is_empty() {
            return Err(at.field(&g("name"), &a.name, "must name the resource (`*` for all)"));
        }
        let pattern = match &a.pattern {
            Some(p) => one_of(at, &g("pattern"), p, &["literal", "prefixed"])?,
            None => "literal".into(),
        };
        let permission = match &a.permission {
            Some(p) => one_of(at, &g("permission"), p, &["allow", "deny"])?,
            None => "allow".into(),
        };
        acls.push(AclPlan {
            principal: principal.clone(),
            resource,
            name: a.name.get_ref().clone(),
            pattern,
            operation: one_of(at, &g("operation"), &a.operation, OPERATIONS)?,
            permission,
        });
    }
    if !acls.is_empty() && !sasl && !raw.mutual_tls {
        return Err(at.field(
            &f("protocol"),
            &raw.protocol,
            "ACLs need clients with names: use a SASL protocol, or \"ssl\" with `mutual_tls = true`",
        ));
    }
    Ok(SecurityPlan {
        protocol,
        mechanism: own,
        mutual_tls: raw.mutual_tls,
        authorizer: raw.authorizer.unwrap_or(!acls.is_empty()),
        users,
        acls,
    })
}

/// The login settings of a table's `principal` (a declared user), checked against the
/// cluster's security; empty without one.
pub(super) fn principal_login(
    at: &Locator<'_>,
    field: &str,
    principal: &Option<Spanned<String>>,
    security: &SecurityPlan,
) -> Result<BTreeMap<String, String>, ScenarioError> {
    let Some(p) = principal else {
        return Ok(BTreeMap::new());
    };
    if !matches!(
        security.protocol,
        Protocol::SaslPlaintext | Protocol::SaslSsl
    ) {
        return Err(at.field(
            field,
            p,
            "a table connects as a principal through SASL: set [cluster.security] protocol = \"sasl_plaintext\" or \"sasl_ssl\"",
        ));
    }
    if !security.users.iter().any(|u| &u.name == p.get_ref()) {
        let known: Vec<&str> = security.users.iter().map(|u| u.name.as_str()).collect();
        return Err(at.field(
            field,
            p,
            &format!("no such user; declared in [[cluster.security.users]]: {known:?}"),
        ));
    }
    Ok(security.login(p.get_ref()))
}

/// A producer table's `expect`.
pub(super) fn expect(
    at: &Locator<'_>,
    field: &str,
    e: &Option<Spanned<String>>,
) -> Result<Expect, ScenarioError> {
    match e.as_ref().map(|e| (e, e.get_ref().as_str())) {
        None | Some((_, "accepted")) => Ok(Expect::Accepted),
        Some((_, "refused")) => Ok(Expect::Refused),
        Some((e, _)) => Err(at.field(
            field,
            e,
            "expected \"accepted\" (the default) or \"refused\" (every send refused for authorization)",
        )),
    }
}
