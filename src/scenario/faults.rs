//! The `[[faults]]` tables of a scenario: what the nemesis does, to what, and when.
//!
//! ```toml
//! [[faults]]
//! action = "kill"             # kill terminate restart pause resume
//!                             # add_consumer remove_consumer crash_consumer
//! target = "leader"           # a node id, "leader", "controller" or "random" (broker faults)
//! topic = "orders"            # with target = "leader"
//! partition = 0               # with target = "leader" (default 0)
//! at = "20s"                  # after the run starts; or after_acks = 50000
//! every = "10s"               # repeat this often...
//! times = 3                   # ...this many times in all (default 1)
//! restart_after = "10s"       # kill/terminate: restart the node later; pause: resume it;
//!                             # delay: remove the delay
//! delay = "1500ms"            # with action = "delay": hold every response this long
//! ```
//!
//! Consumer faults name a consumer table with `consumer = "workers"`. Every choice the
//! nemesis makes at run time (a random node, which member to remove) comes from the seed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{ConsumerPlan, DriverKind, Locator, ScenarioError, TopicPlan, in_range, units};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    action: Spanned<String>,
    target: Option<Spanned<toml::Value>>,
    topic: Option<Spanned<String>>,
    partition: Option<Spanned<i64>>,
    consumer: Option<Spanned<String>>,
    at: Option<Spanned<String>>,
    after_acks: Option<Spanned<i64>>,
    every: Option<Spanned<String>>,
    times: Option<Spanned<i64>>,
    restart_after: Option<Spanned<String>>,
    delay: Option<Spanned<String>>,
}

/// What a broker fault does to its node (the nemesis applies it as the cluster's operation
/// of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrokerOp {
    /// SIGKILL: no shutdown, no flush.
    Kill,
    /// SIGTERM (controlled shutdown).
    Terminate,
    /// Start a stopped node again.
    Restart,
    /// SIGSTOP: the process is frozen, its sockets stay open.
    Pause,
    /// SIGCONT after a pause.
    Resume,
    /// Hold every response of the node this long.
    Delay(Duration),
}

impl fmt::Display for BrokerOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerOp::Kill => "kill",
            BrokerOp::Terminate => "terminate",
            BrokerOp::Restart => "restart",
            BrokerOp::Pause => "pause",
            BrokerOp::Resume => "resume",
            BrokerOp::Delay(_) => "delay",
        })
    }
}

/// Something a fault needs of the cluster backend; which backends can do it is theirs to
/// say (`run::backend` compares the two before a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Applying this operation to a node.
    Apply(BrokerOp),
    /// Undoing this operation (`restart_after`): restarting, resuming, removing a delay.
    Undo(BrokerOp),
    /// Asking which node is the active controller (`target = "controller"`).
    ControllerQuery,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// An operation on a broker.
    Broker(BrokerOp),
    /// One more member joins a consumer group.
    AddConsumer,
    /// A member leaves its group gracefully.
    RemoveConsumer,
    /// A member stops without leaving: the group notices only when its session times out.
    CrashConsumer,
}

impl FaultAction {
    /// Its name as written in scenarios and reports.
    pub fn name(self) -> String {
        match self {
            FaultAction::Broker(op) => op.to_string(),
            FaultAction::AddConsumer => "add_consumer".into(),
            FaultAction::RemoveConsumer => "remove_consumer".into(),
            FaultAction::CrashConsumer => "crash_consumer".into(),
        }
    }
}

impl Serialize for FaultAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Which broker a broker fault hits, resolved when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerTarget {
    /// A fixed node id (the cluster's, from 1).
    Node(i32),
    /// The leader of a partition at that moment.
    Leader {
        /// Index into [`super::Plan::topics`].
        topic: usize,
        /// Partition.
        partition: i32,
    },
    /// The active KRaft controller at that moment.
    Controller,
    /// A node drawn from the seed.
    Random,
}

/// What a fault is applied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// A broker.
    Broker(BrokerTarget),
    /// A member of the consumer table with this index into [`super::Plan::consumers`].
    Consumer(usize),
}

/// When a fault first fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// This long after the run starts.
    At(#[serde(with = "humantime_serde")] Duration),
    /// Once producers have had this many sends acknowledged.
    AfterAcks(u64),
}

/// One `[[faults]]` table, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultPlan {
    /// What it does.
    pub action: FaultAction,
    /// To what.
    pub target: FaultTarget,
    /// When it first fires.
    pub trigger: Trigger,
    /// How long between repeats.
    #[serde(with = "humantime_serde")]
    pub every: Option<Duration>,
    /// How many times in all.
    pub times: u32,
    /// Undo it this long after each firing (restart a killed or terminated node, resume a
    /// paused one).
    #[serde(with = "humantime_serde")]
    pub undo_after: Option<Duration>,
    /// Where its `action` is written, for errors found later (file line and column).
    #[serde(skip)]
    pub position: (usize, usize),
}

impl FaultPlan {
    /// What it needs of the cluster backend, in the order the nemesis needs it.
    pub fn needs(&self) -> Vec<Need> {
        let mut needs = Vec::new();
        if let FaultAction::Broker(op) = self.action {
            needs.push(Need::Apply(op));
            if self.undo_after.is_some() {
                needs.push(Need::Undo(op));
            }
        }
        if self.target == FaultTarget::Broker(BrokerTarget::Controller) {
            needs.push(Need::ControllerQuery);
        }
        needs
    }
}

fn duration(
    at: &Locator<'_>,
    field: &str,
    value: &Option<Spanned<String>>,
) -> Result<Option<Duration>, ScenarioError> {
    value
        .as_ref()
        .map(|d| units::duration(d.get_ref()).map_err(|rule| at.field(field, d, &rule)))
        .transpose()
}

/// Validates the `[[faults]]` tables.
pub(super) fn validate(
    at: &Locator<'_>,
    raw: &[RawFault],
    brokers: usize,
    topics: &[TopicPlan],
    consumers: &[ConsumerPlan],
) -> Result<Vec<FaultPlan>, ScenarioError> {
    let mut plans = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |name: &str| format!("faults[{i}].{name}");
        let action = match r.action.get_ref().as_str() {
            "kill" => FaultAction::Broker(BrokerOp::Kill),
            "terminate" => FaultAction::Broker(BrokerOp::Terminate),
            "restart" => FaultAction::Broker(BrokerOp::Restart),
            "pause" => FaultAction::Broker(BrokerOp::Pause),
            "resume" => FaultAction::Broker(BrokerOp::Resume),
            "delay" => {
                let Some(d) = &r.delay else {
                    return Err(at.field(
                        &f("action"),
                        &r.action,
                        "a delay fault needs `delay = \"1500ms\"` (how long responses are held)",
                    ));
                };
                let by =
                    units::duration(d.get_ref()).map_err(|rule| at.field(&f("delay"), d, &rule))?;
                FaultAction::Broker(BrokerOp::Delay(by))
            }
            "add_consumer" => FaultAction::AddConsumer,
            "remove_consumer" => FaultAction::RemoveConsumer,
            "crash_consumer" => FaultAction::CrashConsumer,
            _ => {
                return Err(at.field(
                    &f("action"),
                    &r.action,
                    "expected kill, terminate, restart, pause, resume, delay, add_consumer, remove_consumer or crash_consumer",
                ));
            }
        };
        let target = match action {
            FaultAction::Broker(_) => {
                if let Some(c) = &r.consumer {
                    return Err(at.field(
                        &f("consumer"),
                        c,
                        "a broker fault takes `target`, not `consumer`",
                    ));
                }
                FaultTarget::Broker(broker_target(at, r, &f, brokers, topics)?)
            }
            _ => {
                if let Some(t) = &r.target {
                    return Err(at.field(
                        &f("target"),
                        t,
                        "a consumer fault takes `consumer = \"<consumer table name>\"`, not `target`",
                    ));
                }
                let Some(name) = &r.consumer else {
                    return Err(at.field(
                        &f("action"),
                        &r.action,
                        "a consumer fault needs `consumer = \"<consumer table name>\"`",
                    ));
                };
                let index = consumers
                    .iter()
                    .position(|c| c.name == *name.get_ref())
                    .ok_or_else(|| {
                        let known: Vec<&str> = consumers.iter().map(|c| c.name.as_str()).collect();
                        at.field(
                            &f("consumer"),
                            name,
                            &format!("no such consumer table; declared: {known:?}"),
                        )
                    })?;
                let plan = &consumers[index];
                if plan.driver == DriverKind::Rskafka || plan.group.is_none() {
                    return Err(at.field(
                        &f("consumer"),
                        name,
                        "consumer faults need a consumer group (driver = \"rdkafka\", \"exec\" or \"verifiable\", with `group`)",
                    ));
                }
                FaultTarget::Consumer(index)
            }
        };
        if let (FaultTarget::Consumer(_), Some(t)) = (&target, &r.topic) {
            return Err(at.field(&f("topic"), t, "only target = \"leader\" takes a topic"));
        }
        let trigger = match (&r.at, &r.after_acks) {
            (Some(_), Some(n)) => {
                return Err(at.field(
                    &f("after_acks"),
                    n,
                    "give either `at` or `after_acks`, not both",
                ));
            }
            (Some(d), None) => Trigger::At(
                units::duration(d.get_ref()).map_err(|rule| at.field(&f("at"), d, &rule))?,
            ),
            (None, Some(n)) => {
                Trigger::AfterAcks(in_range(at, &f("after_acks"), n, 1..=i64::MAX)? as u64)
            }
            (None, None) => {
                return Err(at.field(
                    &f("action"),
                    &r.action,
                    "a fault needs a time, `at = \"20s\"`, or a count, `after_acks = 10000`",
                ));
            }
        };
        let every = duration(at, &f("every"), &r.every)?;
        let times = match &r.times {
            Some(t) => in_range(at, &f("times"), t, 1..=1000)? as u32,
            None => 1,
        };
        if let (Some(t), None) = (&r.times, every)
            && times > 1
        {
            return Err(at.field(
                &f("times"),
                t,
                "repeating needs `every = \"10s\"` (the time between firings)",
            ));
        }
        if let (Some(e), Some(d)) = (&r.every, every)
            && d.is_zero()
        {
            return Err(at.field(&f("every"), e, "must be longer than 0s"));
        }
        if let (Some(d), false) = (
            &r.delay,
            matches!(action, FaultAction::Broker(BrokerOp::Delay(_))),
        ) {
            return Err(at.field(&f("delay"), d, "only action = \"delay\" takes a delay"));
        }
        let undo_after = duration(at, &f("restart_after"), &r.restart_after)?;
        if let Some(u) = &r.restart_after {
            match action {
                FaultAction::Broker(
                    BrokerOp::Kill | BrokerOp::Terminate | BrokerOp::Pause | BrokerOp::Delay(_),
                ) => {}
                _ => {
                    return Err(at.field(
                        &f("restart_after"),
                        u,
                        "only kill, terminate (restarted), pause (resumed) and delay (removed) can be undone",
                    ));
                }
            }
            if let (Some(e), Some(undo)) = (every, undo_after)
                && undo >= e
            {
                return Err(at.field(
                    &f("restart_after"),
                    u,
                    "must be shorter than `every`, so each firing is undone before the next",
                ));
            }
        }
        let e = at.error(r.action.span(), String::new());
        plans.push(FaultPlan {
            position: (e.line, e.column),
            action,
            target,
            trigger,
            every,
            times,
            undo_after,
        });
    }
    Ok(plans)
}

fn broker_target(
    at: &Locator<'_>,
    r: &RawFault,
    f: &dyn Fn(&str) -> String,
    brokers: usize,
    topics: &[TopicPlan],
) -> Result<BrokerTarget, ScenarioError> {
    let Some(target) = &r.target else {
        return Err(at.field(
            &f("action"),
            &r.action,
            "a broker fault needs `target`: a node id, \"leader\", \"controller\" or \"random\"",
        ));
    };
    let target = match target.get_ref() {
        toml::Value::Integer(id) => {
            if !(1..=brokers as i64).contains(id) {
                return Err(at.field(
                    &f("target"),
                    target,
                    &format!("node ids run from 1 to {brokers} (cluster.brokers)"),
                ));
            }
            BrokerTarget::Node(*id as i32)
        }
        toml::Value::String(s) if s == "leader" => {
            let Some(topic) = &r.topic else {
                return Err(at.field(
                    &f("target"),
                    target,
                    "target = \"leader\" needs `topic` (and optionally `partition`)",
                ));
            };
            let index = topics
                .iter()
                .position(|t| t.name == *topic.get_ref())
                .ok_or_else(|| {
                    let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
                    at.field(
                        &f("topic"),
                        topic,
                        &format!("no such topic; declared: {known:?}"),
                    )
                })?;
            let partition = match &r.partition {
                Some(p) => in_range(
                    at,
                    &f("partition"),
                    p,
                    0..=i64::from(topics[index].partitions) - 1,
                )? as i32,
                None => 0,
            };
            return Ok(BrokerTarget::Leader {
                topic: index,
                partition,
            });
        }
        toml::Value::String(s) if s == "controller" => BrokerTarget::Controller,
        toml::Value::String(s) if s == "random" => BrokerTarget::Random,
        _ => {
            return Err(at.field(
                &f("target"),
                target,
                "expected a node id like 2, \"leader\", \"controller\" or \"random\"",
            ));
        }
    };
    if let Some(t) = &r.topic {
        return Err(at.field(&f("topic"), t, "only target = \"leader\" takes a topic"));
    }
    if let Some(p) = &r.partition {
        return Err(at.field(
            &f("partition"),
            p,
            "only target = \"leader\" takes a partition",
        ));
    }
    Ok(target)
}
