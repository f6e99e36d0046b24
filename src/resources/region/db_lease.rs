//! The database's disruption lease (`cockroach::disruption_lease`, which orders separate Terraform runs) held for
//! a whole rollout or scale-down rather than per node: one Job takes it when a region's first disruption is due
//! (and reads `cockroach node status`, the members the health gates then expect live; a region joining while
//! the process holds it takes that read, so the overlapping rollouts of one apply run one take Job), a task of this process
//! renews it every `RENEW_EVERY` while any region of this process holds it, and one Job releases it when the last
//! of them ends, on failure and on Ctrl-C too (best effort: its expiry bounds it otherwise).
//!
//! A rollout does not wait for its release Job to finish ([`Follow::InBackground`]): the Job, once created, runs
//! to its end in the cluster whether or not this process is still there, so the apply ends a Job's start-up
//! earlier (5–15 s on a real cluster). A run started meanwhile finds the lease held and asks again, as it would
//! during the last disruption. The Job removes itself (`ttlSecondsAfterFinished`) when nobody is left to follow
//! it; while this process follows it, its next take waits for it, so that a release never deletes a lease taken
//! after it.
//!
//! Every region of one CockroachDB cluster applied by this process shares the lease (they are one holder), so the
//! holding also says which zones the health gate can reach through this process's clients, and which nodes are
//! leaving on purpose.
use super::lease::ClusterLease;
use super::members;
use crate::cockroach::critical_zones::{self, Critical, VoterRow};
use crate::cockroach::disruption_lease::{self as db_lease, RENEW_EVERY, TIME_TO_LIVE};
use crate::cockroach::health::{self, NodeRow};
use crate::cockroach::manifests::{self, ZoneSpec};
use crate::framework::diag::Diagnostics;
use crate::kubernetes::error::Stopped;
use crate::kubernetes::{AfterSuccess, ClusterClient, Deadline, JobError, Look, Unmet};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);
pub(super) const LEASE_JOB: &str = "cockroachdb-disruption-lease";
/// How long a finished release Job stays for `kubectl logs` when this process did not follow it to its end.
const RELEASE_JOB_KEPT_FOR: i32 = 600;
/// How long a release may take after the operation ended (Ctrl-C or its timeout included).
const RELEASE_WITHIN: Duration = Duration::from_secs(30);

/// What this process's regions of one CockroachDB cluster share while they hold the lease.
#[derive(Default)]
struct Holders {
    /// The regions holding it now.
    count: usize,
    /// The zones being disrupted and their clients: the ones the health gate reads.
    zones: BTreeMap<String, ClusterClient>,
    /// Nodes decommissioned on purpose, by zone and ordinal: kept until the last holder ends, since the members
    /// a holder read when it took the lease still list them.
    leaving: BTreeSet<(String, i32)>,
    renewer: Option<tokio::task::AbortHandle>,
    /// What the take Job of the first holder read, for the regions that join while the lease is held.
    read: Option<ClusterRead>,
}

/// What a take Job reads: the whole cluster's members and (for a zone budget) voters, the same whichever zone's
/// Job reads them, so a region joining the held lease takes them instead of running a Job of its own.
#[derive(Clone)]
struct ClusterRead {
    members: Vec<NodeRow>,
    voters: Option<Result<Vec<VoterRow>, String>>,
    at: tokio::time::Instant,
}

/// How old a read may be for a joining region to take it: the regions of one apply take the lease within
/// seconds of each other, while replica placement moves over minutes.
const READ_STAYS_FRESH: Duration = Duration::from_secs(60);

impl ClusterRead {
    /// Whether a region joining at `now` may take this read: it is fresh, and has the voters when they are asked.
    fn serves(&self, read_voters: bool, now: tokio::time::Instant) -> bool {
        now.saturating_duration_since(self.at) <= READ_STAYS_FRESH
            && (!read_voters || self.voters.is_some())
    }
}

#[derive(Default)]
struct Entry {
    holders: Mutex<Holders>,
    /// Orders the take and release Jobs of this process, so that a release never deletes a lease just taken: a
    /// release followed in the background keeps it until its Job has ended.
    jobs: Arc<tokio::sync::Mutex<()>>,
}

/// How far a release is followed before [`Holding::release`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Follow {
    /// To the Job's end: the zone's objects may go next (a scale-down, a zone leaving the cluster).
    ToTheEnd,
    /// Until the Job is created; its end is followed by a task of this process, as long as it lives.
    InBackground,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One region's hold on the lease; [`Holding::release`] ends it.
pub(super) struct Holding {
    entry: Arc<Entry>,
    client: ClusterClient,
    spec: ZoneSpec,
    image: String,
    members: Mutex<Members>,
    /// Every range's voters per locality, read by the take Job when a zone budget asked for it.
    voters: Option<Result<Vec<VoterRow>, String>>,
}

/// The members as `node status` last listed them for this region (when it took the lease, or since).
struct Members {
    rows: Vec<NodeRow>,
    /// Members down for longer than a restart takes then (`health::down_longer_than`).
    long_down: Vec<(NodeRow, String)>,
    read_at: tokio::time::Instant,
}

impl Members {
    fn of(rows: Vec<NodeRow>) -> Members {
        Self::read_at(rows, tokio::time::Instant::now())
    }

    fn read_at(rows: Vec<NodeRow>, read_at: tokio::time::Instant) -> Members {
        Members {
            long_down: health::down_longer_than_rows(&rows, health::DOWN_TOO_LONG),
            rows,
            read_at,
        }
    }
}

impl Holding {
    /// Takes the lease for the zone's disruptions (waiting while another run holds it), with `leaving` the ordinals
    /// of the zone decommissioned on purpose.
    pub async fn take(
        lease: &ClusterLease,
        client: &ClusterClient,
        spec: &ZoneSpec,
        leaving: impl IntoIterator<Item = i32>,
        deadline: &Deadline,
    ) -> Result<Holding, Diagnostics> {
        Self::take_reading(lease, client, spec, leaving, false, deadline).await
    }

    /// [`Holding::take`], the take Job also reading every range's voters per locality when `read_voters` (for
    /// [`Holding::zone_may_go_down`]): no Job more than the lease costs anyway.
    pub async fn take_reading(
        lease: &ClusterLease,
        client: &ClusterClient,
        spec: &ZoneSpec,
        leaving: impl IntoIterator<Item = i32>,
        read_voters: bool,
        deadline: &Deadline,
    ) -> Result<Holding, Diagnostics> {
        let entry = lease.together().get::<Entry>();
        let image = members::serving_image(client, spec).await?;
        let jobs = entry.jobs.lock().await;
        let now = tokio::time::Instant::now();
        // Kept only while some region holds the lease: the last release clears it with the holders.
        let held_read = locked(&entry.holders)
            .read
            .clone()
            .filter(|r| r.serves(read_voters, now));
        let read = match held_read {
            Some(read) => read,
            None => {
                let (members, sql) = take_job(client, spec, &image, read_voters, deadline).await?;
                ClusterRead {
                    members,
                    voters: read_voters.then(|| critical_zones::parse(&sql)),
                    at: now,
                }
            }
        };
        let mut holders = locked(&entry.holders);
        holders.count += 1;
        holders.zones.insert(spec.zone.clone(), client.clone());
        holders
            .leaving
            .extend(leaving.into_iter().map(|o| (spec.zone.clone(), o)));
        holders.read = Some(read.clone());
        if holders.renewer.is_none() {
            let renewing = tokio::spawn(renew_forever(client.clone(), spec.clone(), image.clone()));
            holders.renewer = Some(renewing.abort_handle());
        }
        drop(holders);
        drop(jobs);
        Ok(Holding {
            entry,
            client: client.clone(),
            spec: spec.clone(),
            image,
            members: Mutex::new(Members::read_at(read.members, read.at)),
            voters: read.voters,
        })
    }

    /// Whether CockroachDB's replica placement, as the take Job read it, lets every node of `zone` go down at
    /// once (`critical_zones`); Err says why not, also when the voters were not read.
    pub fn zone_may_go_down(&self, zone: &str) -> Result<(), Critical> {
        match &self.voters {
            Some(Ok(rows)) => critical_zones::zone_may_go_down(rows, zone),
            Some(Err(unread)) => Err(Critical::Unread(unread.clone())),
            None => Err(Critical::Unread(
                "the lease was taken without reading it".into(),
            )),
        }
    }

    /// Ends this region's hold; the last holder of the process releases the lease in the database, following
    /// the release Job as `follow` says. A failure is only logged: the expiry bounds it.
    pub async fn release(self, follow: Follow) {
        let jobs = Arc::clone(&self.entry.jobs).lock_owned().await;
        {
            let mut holders = locked(&self.entry.holders);
            holders.count = holders.count.saturating_sub(1);
            if holders.count > 0 {
                return;
            }
            if let Some(renewer) = holders.renewer.take() {
                renewer.abort();
            }
            *holders = Holders::default();
        }
        // Its own deadline: the operation's may have ended (Ctrl-C, its timeout), and the release is still due.
        let deadline = Deadline::after(RELEASE_WITHIN, &CancellationToken::new());
        let job = release_job(&self.spec, &self.image, db_lease::holder());
        if let Err(e) = self.client.start_job(&job, &deadline).await {
            return not_released(&self.spec.zone, &e);
        }
        let (client, zone) = (self.client.clone(), self.spec.zone.clone());
        let name = job.metadata.name.unwrap_or_default();
        let finish = async move {
            let finished = client
                .finish_job(&zone, &name, AfterSuccess::Delete, &deadline)
                .await;
            if let Err(e) = finished {
                not_released(&zone, &e);
            }
            drop(jobs);
        };
        match follow {
            Follow::ToTheEnd => finish.await,
            Follow::InBackground => {
                tokio::spawn(finish);
            }
        }
    }

    /// The zones the gate reads, with their clients.
    pub fn zones(&self) -> Vec<(String, ClusterClient)> {
        let holders = locked(&self.entry.holders);
        holders
            .zones
            .iter()
            .map(|(z, c)| (z.clone(), c.clone()))
            .collect()
    }

    /// Whether `ordinal` of `zone` is decommissioned on purpose.
    pub fn is_leaving(&self, zone: &str, ordinal: i32) -> bool {
        locked(&self.entry.holders)
            .leaving
            .contains(&(zone.to_owned(), ordinal))
    }

    pub fn anyone_leaving(&self) -> bool {
        !locked(&self.entry.holders).leaving.is_empty()
    }

    /// The members the live nodes must all see live: the active ones not leaving on purpose.
    pub fn expected_live(&self) -> u64 {
        let staying = |r: &&NodeRow| !self.row_is_leaving(r);
        locked(&self.members)
            .rows
            .iter()
            .filter(|r| r.membership == "active")
            .filter(staying)
            .count() as u64
    }

    /// The members that were down for longer than a restart takes when the lease was taken, but for those
    /// `back` says answer now: holding the lease, no run is disrupting them, so they are not coming back within
    /// this apply.
    pub fn still_long_down(&self, back: impl Fn(&NodeRow) -> bool) -> Vec<String> {
        locked(&self.members)
            .long_down
            .iter()
            .filter(|(row, _)| !back(row))
            .map(|(_, said)| said.clone())
            .collect()
    }

    /// One look at the cluster through a `node status` Job from this region's zone, judged with the nodes leaving
    /// on purpose set aside: for a gate that reaches no staying node through the pods proxy (a zone removed in a
    /// run that applies no other region), since the nodes that are leaving cannot vouch for the rest. The read
    /// also becomes the members the gate expects.
    pub async fn look_by_node_status(&self, deadline: &Deadline) -> Look<(), Diagnostics> {
        let rows = match self.read_members(deadline).await {
            Look::Done(rows) => rows,
            Look::Waiting(why) => return Look::Waiting(why),
            Look::OutOfTime => return Look::OutOfTime,
            Look::Failed(never) => match never {},
        };
        let leaving: Vec<String> = rows
            .iter()
            .filter(|r| self.row_is_leaving(r))
            .map(|r| r.id.clone())
            .collect();
        let verdict = health::judge(&rows, &leaving);
        if verdict.is_healthy() {
            Look::Done(())
        } else {
            Look::Waiting(verdict.to_string())
        }
    }

    /// One `node status` Job from this region's zone; the members it lists become the ones the gate expects.
    /// Waiting says why none were read (a node restarting or leaving behind the service fails an attempt).
    async fn read_members(&self, deadline: &Deadline) -> Look<Vec<NodeRow>, Infallible> {
        let job = manifests::gate_job(&self.spec, &self.image, &[]);
        let text = match self.client.run_job_for_output(&job, deadline).await {
            Ok(text) => text,
            Err(out_of_time) if out_of_time.ran_out_of_time() => return Look::OutOfTime,
            Err(failed) => return Look::Waiting(failed.to_string()),
        };
        match health::parse_node_status(&text) {
            Ok(rows) => {
                *locked(&self.members) = Members::of(rows.clone());
                Look::Done(rows)
            }
            Err(unreadable) => Look::Waiting(unreadable.to_string()),
        }
    }

    /// Whether a member's row is a node of ours leaving on purpose.
    fn row_is_leaving(&self, row: &NodeRow) -> bool {
        match (health::zone_of(row), health::ordinal_of(row)) {
            (Some(zone), Some(ordinal)) => self.is_leaving(zone, ordinal),
            _ => false,
        }
    }

    /// Reads the members again (a `node status` Job) when the last read is older than `older_than`: a gate that
    /// keeps missing members learns how long they have been down, by the cluster's own clock. A failure leaves
    /// the last read.
    pub async fn refresh_members(&self, older_than: Duration, deadline: &Deadline) {
        if locked(&self.members).read_at.elapsed() < older_than {
            return;
        }
        if let Look::Waiting(why) = self.read_members(deadline).await {
            tracing::debug!(zone = %self.spec.zone, why = %why, "node status not read");
        }
    }
}

/// A release that failed: only logged, since the lease's expiry bounds it.
fn not_released(zone: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(zone, error = %error, "the disruption lease was not released; it expires by itself");
}

/// Releases the lease if it was taken.
pub(super) async fn release(held: Option<Holding>, follow: Follow) {
    if let Some(holding) = held {
        holding.release(follow).await;
    }
}

/// The take Job, asked again until the lease is ours; the members `node status` listed and what `cockroach sql`
/// printed (with the voters per locality after the lease's statements when `read_voters`).
async fn take_job(
    client: &ClusterClient,
    spec: &ZoneSpec,
    image: &str,
    read_voters: bool,
    deadline: &Deadline,
) -> Result<(Vec<NodeRow>, String), Diagnostics> {
    let holder = db_lease::holder();
    let mut statements = db_lease::take_statements(holder);
    if read_voters {
        // Last, so that its rows run to the end of what `cockroach sql` prints.
        statements.push(critical_zones::VOTERS_BY_LOCALITY.to_owned());
    }
    let waiting_for = format!("the database's disruption lease (zone {})", spec.zone);
    let taken = deadline
        .poll(ASK_AGAIN_AFTER, &waiting_for, || async {
            let mut job = manifests::gate_job(spec, image, &statements);
            job.metadata.name = Some(LEASE_JOB.to_owned());
            match client.run_job_for_output(&job, deadline).await {
                Ok(text) => {
                    let (sql, status) = db_lease::split_gate_log(&text);
                    if !db_lease::held(sql, holder) {
                        return Look::Waiting(
                            "another Terraform run holds the database's disruption lease \
                             (crdb_provider.disruption_lease) and is disrupting a node"
                                .to_string(),
                        );
                    }
                    match health::parse_node_status(status) {
                        Ok(rows) => Look::Done((rows, sql.to_owned())),
                        Err(unreadable) => Look::Waiting(unreadable.to_string()),
                    }
                }
                // A node restarting behind the service fails an attempt: that is an answer, ask again.
                Err(JobError::Failed(failure)) => Look::Waiting(failure.to_string()),
                Err(out_of_time) if out_of_time.ran_out_of_time() => Look::OutOfTime,
                Err(other) => Look::Failed(other.to_diagnostics(
                    format!(
                        "Cannot take the database's disruption lease from zone {}",
                        spec.zone
                    ),
                    "No node was disrupted.",
                )),
            }
        })
        .await;
    let not_taken = |why: String| {
        Diagnostics::with_error(
            "The database's disruption lease was not taken",
            format!(
                "Zone {} on {}: {why}. No node was disrupted.",
                spec.zone,
                client.label()
            ),
        )
    };
    match taken {
        Ok(read) => Ok(read),
        Err(Unmet::Failed(refused)) => Err(refused),
        Err(Unmet::TimedOut { last }) => Err(not_taken(format!(
            "it waited until the timeout and last saw: {last}"
        ))),
        Err(Unmet::Stopped { last }) => Err(not_taken(format!("{Stopped}; it last saw: {last}"))),
    }
}

/// Renews the lease every `RENEW_EVERY` until aborted (by the last release).
async fn renew_forever(client: ClusterClient, spec: ZoneSpec, image: String) {
    let holder = db_lease::holder();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let deadline = Deadline::after(TIME_TO_LIVE - RENEW_EVERY, &CancellationToken::new());
        let job = lease_job(&spec, &image, &db_lease::take_statement(holder));
        match client.run_job_for_output(&job, &deadline).await {
            Ok(said) if db_lease::held(&said, holder) => {}
            Ok(_) => tracing::warn!(
                zone = %spec.zone,
                "the disruption lease expired during a disruption and another run holds it; its health gate waits for this one"
            ),
            Err(e) => {
                tracing::warn!(zone = %spec.zone, error = %e, "renewing the disruption lease failed")
            }
        }
    }
}

/// The Job deleting this process's lease row: named after the holder, so that it never meets another run's
/// release still running in the zone, and removing itself once finished where nobody follows it.
fn release_job(spec: &ZoneSpec, image: &str, holder: &str) -> k8s_openapi::api::batch::v1::Job {
    let mut job = lease_job(spec, image, &db_lease::release_statement(holder));
    job.metadata.name = Some(release_job_name(holder));
    if let Some(job_spec) = job.spec.as_mut() {
        job_spec.ttl_seconds_after_finished = Some(RELEASE_JOB_KEPT_FOR);
    }
    job
}

fn release_job_name(holder: &str) -> String {
    let short: String = holder.chars().take(12).collect();
    format!("{LEASE_JOB}-release-{short}")
}

/// A `cockroach sql` Job of one lease statement, in the image a running node uses (the planned one may be the
/// image that cannot be pulled).
fn lease_job(spec: &ZoneSpec, image: &str, statement: &str) -> k8s_openapi::api::batch::v1::Job {
    let mut job = manifests::sql_job(spec, LEASE_JOB, statement);
    manifests::run_in_image(&mut job, image);
    job
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn a_joining_region_takes_the_read_while_fresh_and_only_with_the_voters_it_asks_for() {
        let at = Instant::now();
        let read = |voters| ClusterRead {
            members: Vec::new(),
            voters,
            at,
        };
        let without_voters = read(None);
        assert!(without_voters.serves(false, at + Duration::from_secs(2)));
        assert!(
            !without_voters.serves(true, at),
            "a zone budget needs the voters"
        );
        assert!(read(Some(Ok(Vec::new()))).serves(true, at + READ_STAYS_FRESH));
        assert!(!without_voters.serves(false, at + READ_STAYS_FRESH + Duration::from_secs(1)));
    }

    /// The release Job may outlive this process: it is named after the holder (never the take Job's name, which a
    /// later run's take would find running), deletes only this holder's row, and removes itself once finished.
    #[test]
    fn a_release_job_is_this_holders_own_and_removes_itself() {
        let spec = manifests::spec_fixture();
        let holder = "0123456789abcdef0123456789abcdef";
        let job = release_job(&spec, "cockroachdb/cockroach:v24.1.0", holder);
        let name = job.metadata.name.clone().unwrap();
        assert_eq!(name, "cockroachdb-disruption-lease-release-0123456789ab");
        assert!(name.len() <= 63, "a label value: {name}");
        assert_ne!(release_job_name("fedcba9876543210"), name);
        let spec_of_job = job.spec.unwrap();
        assert_eq!(
            spec_of_job.ttl_seconds_after_finished,
            Some(RELEASE_JOB_KEPT_FOR)
        );
        let container = &spec_of_job.template.spec.unwrap().containers[0];
        assert_eq!(
            container.image.as_deref(),
            Some("cockroachdb/cockroach:v24.1.0")
        );
        let command = container
            .command
            .iter()
            .chain(container.args.iter())
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            command.contains(&db_lease::release_statement(holder)),
            "{command}"
        );
    }
}
