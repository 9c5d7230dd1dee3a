//! The shape of what a producer sends: the value [`Template`] and how keys are drawn
//! ([`KeyDistribution`]). The names and rules are read and checked here, where the
//! scenario file is; the `workload` module builds generators from these values and parses no
//! text of its own.

use std::fmt;
use std::str::FromStr;

/// The shape of the message values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Template {
    /// An HTTP middleware's audit entry (`AuditEntry`), keyed by its request id.
    Audit,
    /// A login success or failure (`AuthEvent`), keyed by its request id.
    Auth,
    /// An application event for webhook delivery, keyed by `account_id`.
    Webhook,
    /// An invoice lifecycle event, keyed by `invoiceId`.
    Invoice,
    /// A regulatory compliance update for a workspace, keyed by `workspaceId`.
    Compliance,
    /// Random bytes, not JSON.
    Raw,
    /// Kafka's VerifiableProducer's own values (`<producer>.<seq>`) and keys (`0`, `1`, ...):
    /// the template of `driver = "verifiable"` tables, set by the harness, never named in a
    /// scenario (it is not in [`Template::ALL`]).
    Verifiable,
}

impl Template {
    /// Every template.
    pub const ALL: [Template; 6] = [
        Template::Audit,
        Template::Auth,
        Template::Webhook,
        Template::Invoice,
        Template::Compliance,
        Template::Raw,
    ];

    /// Its lowercase name, as printed and parsed.
    pub fn name(self) -> &'static str {
        match self {
            Template::Audit => "audit",
            Template::Auth => "auth",
            Template::Webhook => "webhook",
            Template::Invoice => "invoice",
            Template::Compliance => "compliance",
            Template::Raw => "raw",
            Template::Verifiable => "verifiable",
        }
    }

    /// The names of every template, as a list for a message: `audit, auth, ..., raw`.
    pub fn names() -> String {
        Template::ALL.map(Template::name).join(", ")
    }

    /// The smallest value size the workload's generator meets exactly for every key it
    /// makes (0 for [`Template::Raw`]): the longest the template's fields can get with the
    /// longest generated key. A scenario asking for less is refused. The workload's tests
    /// measure these sizes from the templates themselves and fail when the two disagree.
    pub fn min_size(self) -> usize {
        match self {
            Template::Audit => 716,
            Template::Auth => 493,
            Template::Webhook => 332,
            Template::Invoice => 193,
            Template::Compliance => 254,
            Template::Raw | Template::Verifiable => 0,
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A template name that is not one of [`Template::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown template {0:?}: expected one of {names}", names = Template::names())]
pub struct UnknownTemplate(pub String);

impl FromStr for Template {
    type Err = UnknownTemplate;

    /// A template by name, ignoring case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownTemplate(s.to_string()))
    }
}

/// How often each key index is drawn.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    /// Every index equally likely.
    Uniform,
    /// Index `i` drawn with probability proportional to `1 / (i + 1)^exponent`.
    Zipf {
        /// The skew, positive: 1 is classic Zipf, larger is more skewed.
        exponent: f64,
    },
    /// 0, 1, ..., count - 1, then 0 again.
    Sequential,
}

/// Why a key distribution was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum KeyDistributionError {
    /// A name other than uniform, zipf and sequential.
    #[error("expected \"uniform\", \"zipf\" or \"sequential\"")]
    UnknownName,
    /// An exponent given with uniform or sequential.
    #[error("an exponent applies only to distribution = \"zipf\"; remove it")]
    ExponentWithoutZipf,
    /// A Zipf exponent that is not a finite positive number.
    #[error("the zipf exponent must be a positive number like 1.1")]
    BadExponent(f64),
}

impl KeyDistribution {
    /// The distribution a scenario's `keys` table names: `uniform`, `sequential` or `zipf`
    /// (exponent 1 unless given). Only zipf takes an exponent, which must be a finite
    /// positive number.
    pub fn from_parts(
        name: &str,
        exponent: Option<f64>,
    ) -> Result<KeyDistribution, KeyDistributionError> {
        let dist = match (name, exponent) {
            ("zipf", exponent) => KeyDistribution::Zipf {
                exponent: exponent.unwrap_or(1.0),
            },
            ("uniform" | "sequential", Some(_)) => {
                return Err(KeyDistributionError::ExponentWithoutZipf);
            }
            ("uniform", None) => KeyDistribution::Uniform,
            ("sequential", None) => KeyDistribution::Sequential,
            _ => return Err(KeyDistributionError::UnknownName),
        };
        dist.check()?;
        Ok(dist)
    }

    /// Refuses a Zipf exponent that is not a finite positive number.
    pub fn check(self) -> Result<(), KeyDistributionError> {
        match self {
            KeyDistribution::Zipf { exponent } if !(exponent > 0.0 && exponent.is_finite()) => {
                Err(KeyDistributionError::BadExponent(exponent))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_parse_and_print() {
        for t in Template::ALL {
            assert_eq!(t.to_string().parse::<Template>(), Ok(t));
            assert_eq!(t.name().to_uppercase().parse::<Template>(), Ok(t));
        }
        assert_eq!(
            "json".parse::<Template>(),
            Err(UnknownTemplate("json".into()))
        );
        assert_eq!(
            UnknownTemplate("json".into()).to_string(),
            "unknown template \"json\": expected one of audit, auth, webhook, invoice, compliance, raw"
        );
        assert_eq!(Template::Raw.min_size(), 0);
    }

    #[test]
    fn key_distributions_are_read_from_a_name_and_an_exponent() {
        use KeyDistributionError as E;
        for (name, exponent, want) in [
            ("uniform", None, Ok(KeyDistribution::Uniform)),
            ("sequential", None, Ok(KeyDistribution::Sequential)),
            ("zipf", None, Ok(KeyDistribution::Zipf { exponent: 1.0 })),
            (
                "zipf",
                Some(1.25),
                Ok(KeyDistribution::Zipf { exponent: 1.25 }),
            ),
            ("zipf", Some(0.0), Err(E::BadExponent(0.0))),
            ("zipf", Some(-1.0), Err(E::BadExponent(-1.0))),
            (
                "zipf",
                Some(f64::INFINITY),
                Err(E::BadExponent(f64::INFINITY)),
            ),
            ("uniform", Some(2.0), Err(E::ExponentWithoutZipf)),
            ("sequential", Some(1.0), Err(E::ExponentWithoutZipf)),
            ("gauss", None, Err(E::UnknownName)),
            ("gauss", Some(1.0), Err(E::UnknownName)),
            ("", None, Err(E::UnknownName)),
            ("Zipf", None, Err(E::UnknownName)),
        ] {
            assert_eq!(
                KeyDistribution::from_parts(name, exponent),
                want,
                "{name} {exponent:?}"
            );
        }
        assert!(matches!(
            KeyDistribution::from_parts("zipf", Some(f64::NAN)),
            Err(E::BadExponent(_))
        ));
        assert!(KeyDistribution::Zipf { exponent: -0.0 }.check().is_err());
    }
}
