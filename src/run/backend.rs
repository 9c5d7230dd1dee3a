//! Whether a cluster backend can apply a plan's faults: the scenario says what each fault
//! needs ([`Need`]), the backend what it can do ([`Capability`]). A plan that needs more
//! than its backend can do is refused before anything starts, not half-way through a run.

use crate::cluster::embedded::security as cs;
use crate::cluster::{Capability, ClusterKind, NodeOp};
use crate::scenario::security as ss;
use crate::scenario::{BrokerOp, DriverKind, Need, Plan, ScenarioError};

/// Refuses a scenario whose faults the cluster backend `kind` cannot apply, naming the
/// fault's place in the file and what the backend can do.
pub fn refuse_unsupported(plan: &Plan, kind: ClusterKind) -> Result<(), ScenarioError> {
    if kind != ClusterKind::Embedded && plan.cluster.security != ss::SecurityPlan::default() {
        return Err(ScenarioError {
            file: plan.file.clone(),
            line: 0,
            column: 0,
            message: format!(
                "[cluster.security] secures an embedded cluster; the {kind} cluster cannot take it: run it with --cluster embedded"
            ),
        });
    }
    let rskafka = plan
        .producers
        .iter()
        .filter(|p| p.driver == DriverKind::Rskafka)
        .map(|p| format!("producer table `{}`", p.name))
        .chain(
            plan.consumers
                .iter()
                .filter(|c| c.driver == DriverKind::Rskafka)
                .map(|c| format!("consumer table `{}`", c.name)),
        )
        .next();
    if let Some(table) = rskafka
        && plan.cluster.security.protocol != ss::Protocol::Plaintext
    {
        return Err(ScenarioError {
            file: plan.file.clone(),
            line: 0,
            column: 0,
            message: format!(
                "{table} uses driver = \"rskafka\", which cannot log in or speak TLS, and \
                 [cluster.security] secures the cluster: use driver = \"rdkafka\" (or remove \
                 [cluster.security])"
            ),
        });
    }
    let can = kind.capabilities();
    for (i, fault) in plan.faults.iter().enumerate() {
        if let Some(missing) = fault
            .needs()
            .into_iter()
            .map(capability)
            .find(|n| !can.contains(n))
        {
            return Err(ScenarioError {
                file: plan.file.clone(),
                line: fault.position.0,
                column: fault.position.1,
                message: format!(
                    "`faults[{i}]` ({}) needs {missing:?}, which the {kind} cluster cannot do (it can: {can:?}); run it with --cluster embedded",
                    fault.action.name()
                ),
            });
        }
    }
    Ok(())
}

/// The embedded cluster's security for a scenario's `[cluster.security]`.
pub fn embedded_security(plan: &ss::SecurityPlan) -> cs::Security {
    let mechanism = |m: ss::Mechanism| match m {
        ss::Mechanism::ScramSha256 => cs::Mechanism::ScramSha256,
        ss::Mechanism::ScramSha512 => cs::Mechanism::ScramSha512,
        ss::Mechanism::Plain => cs::Mechanism::Plain,
    };
    cs::Security {
        protocol: match plan.protocol {
            ss::Protocol::Plaintext => cs::Protocol::Plaintext,
            ss::Protocol::SaslPlaintext => cs::Protocol::SaslPlaintext,
            ss::Protocol::Ssl => cs::Protocol::Ssl,
            ss::Protocol::SaslSsl => cs::Protocol::SaslSsl,
        },
        mutual_tls: plan.mutual_tls,
        mechanism: plan.mechanism.map_or(cs::Mechanism::ScramSha512, mechanism),
        users: plan
            .users
            .iter()
            .map(|u| cs::User {
                name: u.name.clone(),
                password: u.password.clone(),
                mechanism: mechanism(u.mechanism),
            })
            .collect(),
        authorizer: plan.authorizer,
        acls: plan.acls.iter().map(acl).collect(),
    }
}

/// One ACL in the cluster's terms; the scenario validated every name. A run suffixes its
/// topics and groups (`<name><suffix>`, so repeated runs never share them): an ACL on a
/// topic or group is made a prefix ACL, so it covers the run's copy of the name.
fn acl(a: &ss::AclPlan) -> cs::Acl {
    use cs::Operation as O;
    cs::Acl {
        principal: a.principal.clone(),
        resource_type: match a.resource.as_str() {
            "group" => cs::ResourceType::Group,
            "cluster" => cs::ResourceType::Cluster,
            "transactional_id" => cs::ResourceType::TransactionalId,
            _ => cs::ResourceType::Topic,
        },
        resource_name: a.name.clone(),
        pattern: match (a.pattern.as_str(), a.resource.as_str()) {
            ("prefixed", _) | (_, "topic" | "group") if a.name != "*" => cs::PatternType::Prefixed,
            _ => cs::PatternType::Literal,
        },
        operation: match a.operation.as_str() {
            "all" => O::All,
            "read" => O::Read,
            "write" => O::Write,
            "create" => O::Create,
            "delete" => O::Delete,
            "alter" => O::Alter,
            "cluster_action" => O::ClusterAction,
            "describe_configs" => O::DescribeConfigs,
            "alter_configs" => O::AlterConfigs,
            "idempotent_write" => O::IdempotentWrite,
            _ => O::Describe,
        },
        allow: a.permission == "allow",
    }
}

/// The cluster operation a scenario's broker fault names.
pub fn node_op(op: BrokerOp) -> NodeOp {
    match op {
        BrokerOp::Kill => NodeOp::Kill,
        BrokerOp::Terminate => NodeOp::Terminate,
        BrokerOp::Restart => NodeOp::Restart,
        BrokerOp::Pause => NodeOp::Pause,
        BrokerOp::Resume => NodeOp::Resume,
        BrokerOp::Delay(by) => NodeOp::Delay(by),
    }
}

/// The backend capability a need calls for; what undoes an operation is the cluster's rule
/// ([`NodeOp::undo`]).
fn capability(need: Need) -> Capability {
    match need {
        Need::Apply(op) => node_op(op).capability(),
        Need::Undo(op) => node_op(op).undo().capability(),
        Need::ControllerQuery => Capability::ControllerQuery,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tests::{parse_ok, position, with_faults};

    #[test]
    fn faults_the_backend_cannot_apply_are_refused_before_a_run() {
        let text = with_faults();
        let plan = parse_ok(&text);
        assert!(refuse_unsupported(&plan, ClusterKind::Embedded).is_ok());
        let e = refuse_unsupported(&plan, ClusterKind::External).unwrap_err();
        let (line, column) = position(&text, "\"kill\"", 0);
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(
            e.message.contains("faults[0]") && e.message.contains("external"),
            "{e}"
        );
        assert!(e.message.contains("--cluster embedded"), "{e}");
        let e = refuse_unsupported(&plan, ClusterKind::Mock).unwrap_err();
        assert!(
            e.message.contains("faults[2]") && e.message.contains("Pause"),
            "{e}"
        );
    }
}
