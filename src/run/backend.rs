//! Whether a cluster backend can apply a plan's faults: the scenario says what each fault
//! needs ([`Need`]), the backend what it can do ([`Capability`]). A plan that needs more
//! than its backend can do is refused before anything starts, not half-way through a run.

use crate::cluster::{Capability, ClusterKind, NodeOp};
use crate::scenario::{BrokerOp, Need, Plan, ScenarioError};

/// Refuses a scenario whose faults the cluster backend `kind` cannot apply, naming the
/// fault's place in the file and what the backend can do.
pub fn refuse_unsupported(plan: &Plan, kind: ClusterKind) -> Result<(), ScenarioError> {
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
