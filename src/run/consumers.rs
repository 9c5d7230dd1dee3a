//! The consumer instances of a run: started with the run, then added, removed and crashed
//! on the nemesis' command ([`crate::run::nemesis::Members`]).
//!
//! ```text
//!   runner ──start──> Members ──spawn──> ConsumerDriver::run(events, stop)
//!   nemesis ──add / remove(leave | crash)──┘        └──ConsumerEvent──> runner's collector
//! ```
//!
//! Instance ids are handed out in order and never reused, so every delivery in the History
//! names one client. A consumer table that a `crash_consumer` fault targets has static
//! members (`group.instance.id`): a static member does not leave its group when it closes,
//! which is what a crash looks like to the group. (So it cannot leave gracefully either: a
//! scenario puts the members it removes gracefully in another table of the same group.)
//! Exec members are processes: a crash is SIGKILL to the process, which leaves its group
//! only when its session times out, so they need no static membership (and may be removed
//! gracefully too).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::driver::exec::protocol::Configure;
use crate::driver::exec::{Dialect, ExecConsumer, ExecEnv, ExecSpec, Role, verifiable};
use crate::driver::rdkafka::RdkafkaConsumer;
use crate::driver::rskafka::RskafkaReader;
use crate::driver::{Commit, ConsumerDriver, DriverError, EventSink, Stop};
use crate::run::nemesis::{BoxFuture, FaultError};
use crate::scenario::{CommitMode, ConsumerPlan, DriverKind, FaultAction, FaultTarget, Plan};

/// How long a stopping consumer may take to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

struct Instance {
    id: u32,
    table: usize,
    stop: watch::Sender<Stop>,
    task: JoinHandle<Result<(), crate::driver::DriverError>>,
}

/// Every consumer of a run.
pub struct Members {
    tables: Vec<ConsumerPlan>,
    /// Actual topic names, indexed like the plan's topics.
    topics: Vec<String>,
    /// Partitions per topic.
    partitions: Vec<i32>,
    /// Cluster client settings.
    settings: BTreeMap<String, String>,
    bootstrap: String,
    /// Appended to group ids (and static member ids) so runs never share a group.
    suffix: String,
    /// Per table: whether its members are static (it has crash faults).
    statics: Vec<bool>,
    events: EventSink,
    /// Per table: the table that stands for its group ([`Plan::reader_index`]).
    readers: Vec<usize>,
    /// Instance id to the table standing for its group, for every instance ever started.
    reader_of: Arc<RwLock<Vec<usize>>>,
    running: Mutex<Vec<Instance>>,
    /// Where exec members' logs, fatal errors and process records go.
    exec: ExecEnv,
    /// Per table: instances started so far (an exec process's instance number).
    started: Mutex<Vec<u32>>,
}

impl Members {
    /// Starts each table's instances; events go to `events`.
    pub fn start(
        plan: &Plan,
        topics: &[String],
        settings: BTreeMap<String, String>,
        bootstrap: String,
        suffix: &str,
        events: EventSink,
        exec: ExecEnv,
    ) -> Members {
        let statics = (0..plan.consumers.len())
            .map(|i| {
                plan.faults.iter().any(|f| {
                    f.action == FaultAction::CrashConsumer && f.target == FaultTarget::Consumer(i)
                })
            })
            .collect();
        let members = Members {
            tables: plan.consumers.clone(),
            topics: topics.to_vec(),
            partitions: plan.topics.iter().map(|t| t.partitions).collect(),
            settings,
            bootstrap,
            suffix: suffix.to_owned(),
            statics,
            events,
            readers: (0..plan.consumers.len())
                .map(|t| plan.reader_index(t))
                .collect(),
            reader_of: Arc::default(),
            running: Mutex::default(),
            exec,
            started: Mutex::new(vec![0; plan.consumers.len()]),
        };
        for (table, c) in plan.consumers.iter().enumerate() {
            for _ in 0..c.instances {
                members.spawn(table);
            }
        }
        members
    }

    /// Instance id to the consumer table standing for its group ([`Plan::reader_index`]),
    /// growing as instances are added: consumer tables of one group read as one.
    pub fn reader_of(&self) -> Arc<RwLock<Vec<usize>>> {
        Arc::clone(&self.reader_of)
    }

    fn spawn(&self, table: usize) -> u32 {
        let c = &self.tables[table];
        let id = {
            let mut reader_of = self.reader_of.write().unwrap_or_else(|e| e.into_inner());
            reader_of.push(self.readers[table]);
            reader_of.len() as u32 - 1
        };
        let topic = &self.topics[c.topic];
        let instance = {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            let n = started[table];
            started[table] += 1;
            n
        };
        let driver: Box<dyn ConsumerDriver> = match c.driver {
            DriverKind::Rdkafka => {
                let group = format!("{}{}", c.group.clone().unwrap_or_default(), self.suffix);
                let mut settings = self.settings.clone();
                settings.extend(c.client.clone());
                settings.extend(c.login.clone());
                if self.statics[table] {
                    settings
                        .entry("group.instance.id".into())
                        .or_insert_with(|| format!("{group}-member-{id}"));
                }
                Box::new(RdkafkaConsumer::new(
                    id,
                    settings,
                    &group,
                    topic,
                    match c.commit {
                        CommitMode::Auto => Commit::Auto,
                        CommitMode::AfterProcessing => Commit::AfterProcessing,
                        CommitMode::BeforeProcessing => Commit::BeforeProcessing,
                    },
                    c.processing_time,
                ))
            }
            DriverKind::Rskafka => Box::new(RskafkaReader::new(
                id,
                &self.bootstrap,
                topic,
                self.partitions[c.topic],
            )),
            DriverKind::Exec | DriverKind::Verifiable => {
                let group = format!("{}{}", c.group.clone().unwrap_or_default(), self.suffix);
                let mut security = self.settings.clone();
                security.remove("bootstrap.servers");
                security.extend(c.login.clone());
                let exec = c.exec.clone().unwrap_or_else(|| crate::scenario::ExecPlan {
                    command: Vec::new(),
                    env: BTreeMap::new(),
                    cwd: std::path::PathBuf::from("."),
                    startup_timeout: Duration::from_secs(30),
                });
                let (command, dialect) = match (c.driver, &self.exec.tools) {
                    (DriverKind::Verifiable, Some(tools)) => (
                        verifiable::consumer_command(
                            tools,
                            &self.bootstrap,
                            topic,
                            &group,
                            c.commit == CommitMode::Auto,
                        ),
                        Dialect::Verifiable,
                    ),
                    // Without tools (never: the run provisions them) the empty command
                    // fails the start-up with its reason.
                    (DriverKind::Verifiable, None) => (Vec::new(), Dialect::Verifiable),
                    _ => (exec.command, Dialect::Harness),
                };
                Box::new(ExecConsumer::new(
                    ExecSpec {
                        table: c.name.clone(),
                        role: Role::Consumer,
                        instance,
                        id,
                        command,
                        env: exec.env,
                        cwd: exec.cwd,
                        startup_timeout: exec.startup_timeout,
                        configure: Configure {
                            role: Role::Consumer,
                            table: c.name.clone(),
                            instance,
                            bootstrap_servers: self.bootstrap.clone(),
                            topic: topic.clone(),
                            group: Some(group),
                            client: c.client.clone(),
                            security,
                        },
                        dialect,
                    },
                    self.exec.clone(),
                ))
            }
        };
        let (stop, stop_rx) = watch::channel(Stop::Run);
        let run = driver.run(self.events.clone(), stop_rx);
        let fatal = self.exec.fatal.clone();
        let task = tokio::spawn(async move {
            match run.await {
                // A client its settings cannot make, or that cannot subscribe, will never
                // consume: the run ends now, saying why, rather than wait for it.
                Err(e @ (DriverError::Create { .. } | DriverError::Subscribe { .. })) => {
                    fatal.raise(e);
                    Ok(())
                }
                ended => ended,
            }
        });
        self.lock().push(Instance {
            id,
            table,
            stop,
            task,
        });
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every consumer (leaving its group) and waits for each.
    pub async fn stop_all(&self) {
        let instances: Vec<Instance> = std::mem::take(&mut *self.lock());
        for i in &instances {
            let _ = i.stop.send(Stop::Leave);
        }
        for i in instances {
            if let Err(e) = finish(i).await {
                tracing::warn!("{e}");
            }
        }
    }
}

/// Waits for a stopping instance; an error says how it ended otherwise than cleanly.
async fn finish(instance: Instance) -> Result<(), FaultError> {
    let reason = match tokio::time::timeout(STOP_TIMEOUT, instance.task).await {
        Ok(Ok(Ok(()))) => return Ok(()),
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(e)) => format!("its task {e}"),
        Err(_) => format!("did not stop within {STOP_TIMEOUT:?}"),
    };
    Err(FaultError::Consumer {
        instance: instance.id,
        reason,
    })
}

/// Members still running when the run lets go of them (it failed) stop at once: their
/// tasks are aborted, which drops their clients and kills exec processes.
impl Drop for Members {
    fn drop(&mut self) {
        for i in self.lock().drain(..) {
            i.task.abort();
        }
    }
}

impl crate::run::nemesis::Members for Members {
    fn add(&self, consumer: usize) -> BoxFuture<'_, Result<u32, FaultError>> {
        Box::pin(async move { Ok(self.spawn(consumer)) })
    }

    fn remove(
        &self,
        consumer: usize,
        pick: u64,
        crash: bool,
    ) -> BoxFuture<'_, Result<u32, FaultError>> {
        Box::pin(async move {
            let instance = {
                let mut running = self.lock();
                let live: Vec<usize> = (0..running.len())
                    .filter(|&i| running[i].table == consumer)
                    .collect();
                if live.is_empty() {
                    return Err(FaultError::NoMember {
                        table: self.tables[consumer].name.clone(),
                    });
                }
                let chosen =
                    live[rand::rngs::StdRng::seed_from_u64(pick).random_range(0..live.len())];
                running.remove(chosen)
            };
            let id = instance.id;
            let _ = instance
                .stop
                .send(if crash { Stop::Crash } else { Stop::Leave });
            finish(instance).await.map(|()| id)
        })
    }
}
