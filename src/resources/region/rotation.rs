//! A CA rotation, as one zone takes part in it. A new CA (a new `pki_generation`, or another `ca_certificate`)
//! leaves the cluster's previous one in `previous_ca_certificate`; every zone then takes three steps, each rolled
//! out one node at a time under the cluster's lease and health gates, and no zone starts a step before every zone
//! of the cluster finished the one before:
//!
//! 1. `TrustBoth`: `ca.crt` holds the new CA and the previous one; node and root client certificates stay on the
//!    previous CA. Every node keeps trusting every other one, and once all run it, all trust the new CA too.
//! 2. `Reissued`: node certificates and the root client of the zone's client secrets come from the new CA;
//!    `ca.crt` still holds both, so old and new certificates only ever meet nodes that trust them.
//! 3. `Done`: `ca.crt` holds the new CA only: nothing uses the previous one any more.
//!
//! Where a zone stands is read from its live node secret, so an apply interrupted half-way continues where the
//! zone stopped. The zones of one run wait for each other through the provider process's `Rotations` (one
//! provider process serves every region of a configuration, as for the lease). A region records in
//! `ca_rotation_completed` that it saw every zone finish; until then it plans an update, so that every zone takes
//! part in the next run.
use super::model::RegionModel;
use crate::cockroach::manifests::{secret_files, ZoneCertificates};
use crate::cockroach::pki;
use crate::framework::diag::Diagnostics;
use crate::framework::Attr;
use crate::kubernetes::error::Stopped;
use crate::kubernetes::{Deadline, Look, Unmet};
use k8s_openapi::api::core::v1::Secret;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a zone waits for every other zone of the cluster to show up in this run before it concludes they are
/// not part of it. Regions of one run start together (they depend on the cluster only), well within this.
pub(super) const ARRIVAL_GRACE: Duration = Duration::from_secs(30);
const ASK_AGAIN_AFTER: Duration = Duration::from_millis(250);

/// A zone's place in a rotation, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Step {
    /// Nothing done yet: the previous CA only.
    Old,
    TrustBoth,
    Reissued,
    Done,
}

impl Step {
    fn describe(self) -> &'static str {
        match self {
            Step::Old => "has not started",
            Step::TrustBoth => "trusts both CAs",
            Step::Reissued => "runs certificates of the new CA",
            Step::Done => "trusts the new CA only",
        }
    }
}

/// Where a zone stands, from its live node secret's `ca.crt` and `node.crt`. A zone that runs nothing yet starts
/// on the new CA at once.
pub(super) fn live_step(live_ca: Option<&str>, live_node: Option<&str>, new_ca: &str) -> Step {
    let Some(node) = live_node else {
        return Step::Done;
    };
    let new = pki::bundle_fingerprints(new_ca);
    let trusted = live_ca.map(pki::bundle_fingerprints).unwrap_or_default();
    let trusts_new = !new.is_empty() && new.iter().all(|f| trusted.contains(f));
    match (pki::certificate_matches_ca(node, new_ca), trusts_new) {
        (true, true) if trusted.len() == new.len() => Step::Done,
        (true, _) => Step::Reissued,
        (false, true) => Step::TrustBoth,
        (false, false) => Step::Old,
    }
}

/// The steps an apply takes the zone through: the one it stands at again (its rollout may have been interrupted),
/// then every later one.
pub(super) fn steps_from(live: Step) -> Vec<Step> {
    [Step::TrustBoth, Step::Reissued, Step::Done]
        .into_iter()
        .filter(|step| *step >= live)
        .collect()
}

/// What the zone ran before the rotation: its node certificate and root client, from its live secrets.
#[derive(Clone, Default)]
pub(super) struct Before {
    pub node: Option<(String, String)>,
    pub root: Option<(String, String)>,
}

/// The zone's certificates at `step`, from those it ends with (`done`: the new CA, a node certificate and the root
/// client it signed) and those it ran before.
pub(super) fn certificates_at(
    step: Step,
    done: &ZoneCertificates,
    before: &Before,
    previous_ca: &str,
) -> ZoneCertificates {
    let both = pki::ca_bundle(&[&done.ca_crt, previous_ca]);
    let signed_by_previous = |pair: &Option<(String, String)>| {
        pair.clone()
            .filter(|(cert, _)| pki::certificate_matches_ca(cert, previous_ca))
    };
    match step {
        Step::Old | Step::TrustBoth => {
            let (node_crt, node_key) = signed_by_previous(&before.node)
                .unwrap_or_else(|| (done.node_crt.clone(), done.node_key.clone()));
            let (root_crt, root_key) = signed_by_previous(&before.root)
                .unwrap_or_else(|| (done.root_crt.clone(), done.root_key.clone()));
            ZoneCertificates {
                ca_crt: both,
                node_crt,
                node_key,
                root_crt,
                root_key,
            }
        }
        Step::Reissued => ZoneCertificates {
            ca_crt: both,
            ..done.clone()
        },
        Step::Done => done.clone(),
    }
}

/// What `ca_rotation_completed` holds once a region saw every zone finish the rotation from `previous_ca`.
pub(super) fn completed_marker(previous_ca: &str) -> String {
    pki::certificate_fingerprint_sha256(previous_ca).unwrap_or_else(|_| "unreadable".into())
}

/// The rotation `planned` takes part in, if any: the cluster has a previous CA this region did not yet see every
/// zone move away from.
pub(super) fn pending(
    planned: &RegionModel,
    prior: Option<&RegionModel>,
) -> Option<(String, String)> {
    let cluster = planned.cluster.known()?;
    let (Attr::Known(previous), Attr::Known(new)) =
        (&cluster.previous_ca_certificate, &cluster.ca_certificate)
    else {
        return None;
    };
    let marker = completed_marker(previous);
    let completed = prior.and_then(|p| p.ca_rotation_completed.known()) == Some(&marker);
    (!completed && previous != new).then(|| (new.clone(), previous.clone()))
}

/// What the zone ran before, from its live node and client secrets.
pub(super) fn before(node_secret: Option<&Secret>, root_secret: Option<&Secret>) -> Before {
    Before {
        node: secret_files::pair(node_secret, secret_files::NODE_CRT, secret_files::NODE_KEY),
        root: secret_files::pair(root_secret, secret_files::ROOT_CRT, secret_files::ROOT_KEY),
    }
}

/// The zones of every rotation in this process, by rotation: each zone's last finished step (None: arrived).
type Progress = BTreeMap<String, Option<Step>>;

/// The progress of every rotation this provider process takes part in; reached through the operation context
/// (`ctx.shared.get::<Rotations>()`), so that each provider process has its own.
#[derive(Default)]
pub(super) struct Rotations(Mutex<HashMap<String, Progress>>);

impl Rotations {
    fn progress(&self) -> MutexGuard<'_, HashMap<String, Progress>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The zones a zone waits on before `step` may follow: those not seen in this run, and those seen behind `step`.
pub(super) fn waiting_on(
    zones: &[String],
    progress: &Progress,
    step: Step,
) -> (Vec<String>, Vec<(String, Option<Step>)>) {
    let mut absent = Vec::new();
    let mut behind = Vec::new();
    for zone in zones {
        match progress.get(zone) {
            None => absent.push(zone.clone()),
            Some(done) if done.is_none_or(|d| d < step) => behind.push((zone.clone(), *done)),
            Some(_) => {}
        }
    }
    (absent, behind)
}

/// One zone's part in one rotation of this run.
pub(super) struct Rotation {
    rotations: Arc<Rotations>,
    key: String,
    zone: String,
    zones: Vec<String>,
}

impl Rotation {
    /// Registers the zone in the rotation from `previous_ca` to `new_ca` of `cluster` with `zones`.
    pub fn join(
        rotations: Arc<Rotations>,
        cluster: &str,
        new_ca: &str,
        previous_ca: &str,
        zone: &str,
        zones: Vec<String>,
    ) -> Self {
        let key = format!(
            "{cluster}/{}/{}",
            completed_marker(previous_ca),
            completed_marker(new_ca)
        );
        rotations
            .progress()
            .entry(key.clone())
            .or_default()
            .entry(zone.to_owned())
            .or_insert(None);
        Rotation {
            rotations,
            key,
            zone: zone.to_owned(),
            zones,
        }
    }

    /// The zone finished `step` (its nodes run it).
    pub fn finished(&self, step: Step) {
        let mut all = self.rotations.progress();
        let progress = all.entry(self.key.clone()).or_default();
        let entry = progress.entry(self.zone.clone()).or_insert(None);
        *entry = Some(entry.map_or(step, |done| done.max(step)));
    }

    /// Waits until every zone of the cluster finished `step`. Zones that do not show up in this run within
    /// [`ARRIVAL_GRACE`] stop it: their step is unknown, so going on could leave two nodes that do not trust
    /// each other.
    pub async fn wait_for_every_zone(
        &self,
        step: Step,
        deadline: &Deadline,
    ) -> Result<(), Diagnostics> {
        let started = Instant::now();
        let waiting_on_zones = || {
            let all = self.rotations.progress();
            let empty = Progress::new();
            waiting_on(&self.zones, all.get(&self.key).unwrap_or(&empty), step)
        };
        let not_in_this_run = |absent: &[String]| {
            self.refusal(
                format!("zones {absent:?} did not take part in this run"),
                "Every region of the cluster takes each step of a CA rotation together: apply all of them in \
                 one run (no -target, not from separate workspaces); the next apply continues from here.",
            )
        };
        let every_zone = deadline
            .poll(
                ASK_AGAIN_AFTER,
                &format!("every zone to finish CA rotation step {step:?}"),
                || {
                    let (absent, behind) = waiting_on_zones();
                    let look = if absent.is_empty() && behind.is_empty() {
                        Look::Done(())
                    } else if !absent.is_empty() && started.elapsed() >= ARRIVAL_GRACE {
                        Look::Failed(not_in_this_run(&absent))
                    } else {
                        let said: Vec<String> = behind
                            .iter()
                            .map(|(zone, done)| {
                                format!(
                                    "{zone} {}",
                                    done.map_or("has not finished a step", Step::describe)
                                )
                            })
                            .collect();
                        Look::Waiting(said.join(", "))
                    };
                    std::future::ready(look)
                },
            )
            .await;
        match every_zone {
            Ok(()) => Ok(()),
            Err(Unmet::Failed(refused)) => Err(refused),
            Err(Unmet::TimedOut { last }) => {
                let (absent, _) = waiting_on_zones();
                if !absent.is_empty() {
                    return Err(not_in_this_run(&absent));
                }
                Err(self.refusal(
                    format!("the other zones did not finish in time: {last}"),
                    "The next apply continues from here.",
                ))
            }
            Err(Unmet::Stopped { .. }) => Err(self.refusal(
                format!("{Stopped} before every zone finished the step"),
                "The next apply continues from here.",
            )),
        }
    }

    fn refusal(&self, why: String, next: &str) -> Diagnostics {
        Diagnostics::with_error(
            format!("CA rotation paused in zone {}", self.zone),
            format!(
                "Zone {} waited for every zone of the cluster before its next step of the CA rotation, and {why}. \
                 Nothing unsafe was done: every node still trusts every certificate in use. {next}",
                self.zone
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> pki::CertificateAuthority {
        pki::CertificateAuthority::generate(
            name,
            time::Duration::days(30),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    fn node(ca: &pki::CertificateAuthority) -> (String, String) {
        let pair = pki::issue_node_certificate(
            ca,
            "a",
            "cluster.local",
            time::Duration::days(1),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        (pair.cert_pem, pair.key_pem)
    }

    fn root(ca: &pki::CertificateAuthority) -> (String, String) {
        let pair = pki::issue_client_certificate(
            ca,
            "root",
            time::Duration::days(1),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        (pair.cert_pem, pair.key_pem)
    }

    #[test]
    fn each_step_is_read_from_the_live_secret_and_the_certificates_follow_it() {
        let (old, new) = (ca("old"), ca("new"));
        let (old_node, new_node) = (node(&old), node(&new));
        let (old_root, new_root) = (root(&old), root(&new));
        let done = ZoneCertificates {
            ca_crt: new.cert_pem().to_owned(),
            node_crt: new_node.0.clone(),
            node_key: new_node.1.clone(),
            root_crt: new_root.0.clone(),
            root_key: new_root.1.clone(),
        };
        let before = Before {
            node: Some(old_node.clone()),
            root: Some(old_root.clone()),
        };
        let at = |step| certificates_at(step, &done, &before, old.cert_pem());
        let step_of = |certs: &ZoneCertificates| {
            live_step(Some(&certs.ca_crt), Some(&certs.node_crt), new.cert_pem())
        };

        assert_eq!(
            live_step(Some(old.cert_pem()), Some(&old_node.0), new.cert_pem()),
            Step::Old
        );
        let trust_both = at(Step::TrustBoth);
        assert_eq!(
            pki::bundle_fingerprints(&trust_both.ca_crt),
            [new.cert_pem(), old.cert_pem()]
                .map(|c| pki::certificate_fingerprint_sha256(c).unwrap())
        );
        assert_eq!(
            (trust_both.node_crt.as_str(), trust_both.root_crt.as_str()),
            (old_node.0.as_str(), old_root.0.as_str())
        );
        assert_eq!(step_of(&trust_both), Step::TrustBoth);

        let reissued = at(Step::Reissued);
        assert_eq!(reissued.ca_crt, trust_both.ca_crt);
        assert_eq!(
            (reissued.node_crt.as_str(), reissued.root_crt.as_str()),
            (new_node.0.as_str(), new_root.0.as_str())
        );
        assert_eq!(step_of(&reissued), Step::Reissued);

        let finished = at(Step::Done);
        assert_eq!(pki::bundle_fingerprints(&finished.ca_crt).len(), 1);
        assert_eq!(step_of(&finished), Step::Done);
        assert_eq!(
            live_step(None, None, new.cert_pem()),
            Step::Done,
            "a zone with nothing running"
        );

        assert_eq!(
            steps_from(Step::Old),
            [Step::TrustBoth, Step::Reissued, Step::Done]
        );
        assert_eq!(
            steps_from(Step::TrustBoth),
            [Step::TrustBoth, Step::Reissued, Step::Done]
        );
        assert_eq!(steps_from(Step::Reissued), [Step::Reissued, Step::Done]);
        assert_eq!(steps_from(Step::Done), [Step::Done]);
    }

    #[test]
    fn a_zone_waits_for_zones_absent_or_behind() {
        let zones: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let progress: Progress = [
            ("a".to_string(), Some(Step::Reissued)),
            ("b".to_string(), None),
        ]
        .into();
        let (absent, behind) = waiting_on(&zones, &progress, Step::TrustBoth);
        assert_eq!(absent, ["c"]);
        assert_eq!(behind, [("b".to_string(), None)]);
        let all: Progress = zones
            .iter()
            .map(|z| (z.clone(), Some(Step::Done)))
            .collect();
        assert_eq!(waiting_on(&zones, &all, Step::Done), (vec![], vec![]));
    }

    #[tokio::test]
    async fn a_zone_missing_from_the_run_stops_the_others_before_their_next_step() {
        let (old, new) = (ca("old"), ca("new"));
        let zones: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let rotations = Arc::new(Rotations::default());
        let a = Rotation::join(
            rotations.clone(),
            "test-absent",
            new.cert_pem(),
            old.cert_pem(),
            "a",
            zones,
        );
        a.finished(Step::TrustBoth);
        let stop = tokio_util::sync::CancellationToken::new();
        let deadline = Deadline::after(Duration::from_millis(600), &stop);
        let refused = a
            .wait_for_every_zone(Step::TrustBoth, &deadline)
            .await
            .unwrap_err();
        assert_eq!(refused.0[0].summary, "CA rotation paused in zone a");
        let detail = &refused.0[0].detail;
        assert!(
            detail.contains("zones [\"b\"] did not take part in this run"),
            "{detail}"
        );
        assert!(detail.contains("apply all of them in one run"), "{detail}");
    }

    #[tokio::test]
    async fn zones_of_one_run_pass_a_step_together() {
        let (old, new) = (ca("old"), ca("new"));
        let zones: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let rotations = Arc::new(Rotations::default());
        let a = Rotation::join(
            rotations.clone(),
            "test-together",
            new.cert_pem(),
            old.cert_pem(),
            "a",
            zones.clone(),
        );
        let b = Rotation::join(
            rotations.clone(),
            "test-together",
            new.cert_pem(),
            old.cert_pem(),
            "b",
            zones,
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let deadline = Deadline::after(Duration::from_secs(5), &stop);
        a.finished(Step::TrustBoth);
        let waiting = a.wait_for_every_zone(Step::TrustBoth, &deadline);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(400), &mut waiting)
                .await
                .is_err(),
            "a went on while b had not finished"
        );
        b.finished(Step::TrustBoth);
        assert!(tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .unwrap()
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn terraform_s_stop_ends_the_wait_for_the_other_zones_at_once() {
        let (old, new) = (ca("old"), ca("new"));
        let zones: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let rotations = Arc::new(Rotations::default());
        let a = Rotation::join(
            rotations.clone(),
            "test-stopped",
            new.cert_pem(),
            old.cert_pem(),
            "a",
            zones.clone(),
        );
        let _b = Rotation::join(
            rotations.clone(),
            "test-stopped",
            new.cert_pem(),
            old.cert_pem(),
            "b",
            zones,
        );
        a.finished(Step::TrustBoth);
        let stop = tokio_util::sync::CancellationToken::new();
        let deadline = Deadline::after(Duration::from_secs(3600), &stop);
        let waiting = a.wait_for_every_zone(Step::TrustBoth, &deadline);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), &mut waiting)
                .await
                .is_err(),
            "a went on while b had not finished"
        );
        stop.cancel();
        let started = tokio::time::Instant::now();
        let refused = waiting.await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(10));
        assert_eq!(refused.0[0].summary, "CA rotation paused in zone a");
        let detail = &refused.0[0].detail;
        assert!(
            detail.contains(
                "Terraform asked the provider to stop before every zone finished the step"
            ),
            "{detail}"
        );
    }
}
