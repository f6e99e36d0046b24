//! Ranges and their replicas, placed the way CockroachDB's allocator places them in spirit: replicas of a range on
//! distinct nodes, spread over regions first and zones second, then balanced by count. Pure: the caller says which
//! nodes are live, dead or leaving, and applies one `Action` at a time at its own (time-scaled) pace.

use std::collections::{BTreeMap, BTreeSet};

pub type NodeId = u32;

/// A node's `--locality` tiers the allocator uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Locality {
    pub region: String,
    pub zone: String,
}

impl Locality {
    /// Reads `region=us-east1,zone=us-east1-b`; a missing tier falls back to the given one (the Kubernetes cluster
    /// for the region, the namespace for the zone), so nodes started without `--locality` still have one.
    pub fn parse(flag: Option<&str>, region: &str, zone: &str) -> Locality {
        let tier = |key: &str| {
            flag.into_iter()
                .flat_map(|f| f.split(','))
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        };
        Locality {
            region: tier("region").unwrap_or_else(|| region.to_string()),
            zone: tier("zone").unwrap_or_else(|| zone.to_string()),
        }
    }

    /// As `cockroach node status` prints it.
    pub fn display(&self) -> String {
        format!("region={},zone={}", self.region, self.zone)
    }
}

/// What the allocator knows of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: NodeId,
    pub locality: Locality,
    /// The process runs and is joined (liveness record current).
    pub live: bool,
    /// Down for longer than `server.time_until_store_dead`.
    pub dead: bool,
    /// Decommissioning or decommissioned: takes no replicas, gives its own away, and no longer counts as a
    /// locality to spread over.
    pub leaving: bool,
    /// The node's volume is gone: its replicas no longer exist.
    pub store_lost: bool,
}

impl Peer {
    /// A replica here must be replaced.
    fn unusable(&self) -> bool {
        self.dead || self.leaving || self.store_lost
    }

    fn can_take(&self) -> bool {
        self.live && !self.leaving && !self.store_lost
    }
}

pub type Peers = BTreeMap<NodeId, Peer>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub id: u32,
    /// Voting replicas, in descriptor order.
    pub replicas: Vec<NodeId>,
    pub leaseholder: Option<NodeId>,
    pub constraints: Constraints,
}

/// How one range stands, as CockroachDB's `calcRangeCounter` judges it from liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeHealth {
    /// Fewer than a majority of its replicas are live: it cannot serve.
    pub unavailable: bool,
    /// Fewer live replicas than the replication factor needs.
    pub under_replicated: bool,
    pub over_replicated: bool,
    /// Every replica was on a volume that is gone.
    pub lost: bool,
}

/// CockroachDB's `GetNeededVoters`: the zone's replication factor, lowered to an odd count of at least 3 when the
/// cluster has fewer nodes, so small clusters still work.
pub fn needed_voters(zone_replicas: usize, cluster_nodes: usize) -> usize {
    let mut need = zone_replicas.min(cluster_nodes);
    if need == zone_replicas {
        return need;
    }
    if need.is_multiple_of(2) {
        need = need.saturating_sub(1);
    }
    need.max(3).min(zone_replicas)
}

fn is_live(peers: &Peers, id: NodeId) -> bool {
    peers.get(&id).is_some_and(|p| p.live)
}

pub fn has_quorum(peers: &Peers, range: &Range) -> bool {
    let live = range
        .replicas
        .iter()
        .filter(|r| is_live(peers, **r))
        .count();
    !range.replicas.is_empty() && live > range.replicas.len() / 2
}

pub fn health(peers: &Peers, range: &Range, needed: usize) -> RangeHealth {
    let live = range
        .replicas
        .iter()
        .filter(|r| is_live(peers, **r))
        .count();
    RangeHealth {
        unavailable: !has_quorum(peers, range),
        under_replicated: live < needed,
        over_replicated: range.replicas.len() > needed,
        lost: !range.replicas.is_empty()
            && range
                .replicas
                .iter()
                .all(|r| peers.get(r).is_none_or(|p| p.store_lost)),
    }
}

/// The node that reports a range's range-level metrics: its leaseholder when live, else its first live replica in
/// descriptor order; nobody when no replica is live (as in CockroachDB, such a range is in no node's count).
pub fn range_counter(peers: &Peers, range: &Range) -> Option<NodeId> {
    match range.leaseholder {
        Some(l) if is_live(peers, l) => Some(l),
        _ => range.replicas.iter().copied().find(|r| is_live(peers, *r)),
    }
}

/// One change of one range's replica set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add {
        range: usize,
        to: NodeId,
    },
    Remove {
        range: usize,
        from: NodeId,
    },
    Move {
        range: usize,
        from: NodeId,
        to: NodeId,
    },
}

/// Replica counts this close are equally good targets.
const COUNT_BUCKET: usize = 4;

/// A stable, well-spread hash of a (range, node) pair.
fn mix(range: u32, node: NodeId) -> u64 {
    let x = (u64::from(range) << 32 | u64::from(node)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

/// Where a range's replicas may go, from the zone configuration of what it holds (a multi-region database's
/// survival goal); the default is the default zone's: `num_replicas` anywhere, spread evenly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Constraints {
    /// Voters wanted; 0 means the default zone's `num_replicas`.
    pub num_replicas: usize,
    /// The regions replicas may be in (spread evenly over them); empty means any.
    pub regions: BTreeSet<String>,
}

/// One range's placement rule, resolved against the cluster's members.
#[derive(Clone)]
struct Rule {
    needed: usize,
    region_cap: usize,
    zone_cap: usize,
    regions: BTreeSet<String>,
}

impl Rule {
    fn allows(&self, p: &Peer) -> bool {
        self.regions.is_empty() || self.regions.contains(&p.locality.region)
    }
}

/// The voters each range needs: its constraints' count (or the default zone's), lowered as `needed_voters` does
/// for the members it may use. Resolved once per distinct set of constraints.
pub struct Needed {
    by_constraints: Vec<(Constraints, usize)>,
}

impl Needed {
    pub fn new(peers: &Peers, ranges: &[Range], zone_replicas: usize) -> Needed {
        let mut by_constraints: Vec<(Constraints, usize)> = Vec::new();
        for r in ranges {
            if !by_constraints.iter().any(|(c, _)| *c == r.constraints) {
                let needed = resolve(peers, &r.constraints, zone_replicas).needed;
                by_constraints.push((r.constraints.clone(), needed));
            }
        }
        Needed { by_constraints }
    }

    /// The voters `range` needs; 0 for a range not among those given to `new`.
    pub fn of(&self, range: &Range) -> usize {
        self.by_constraints
            .iter()
            .find(|(c, _)| *c == range.constraints)
            .map_or(0, |(_, n)| *n)
    }
}

fn resolve(peers: &Peers, c: &Constraints, zone_replicas: usize) -> Rule {
    let members: Vec<&Peer> = peers
        .values()
        .filter(|p| !p.leaving && (c.regions.is_empty() || c.regions.contains(&p.locality.region)))
        .collect();
    let regions: BTreeSet<&str> = members.iter().map(|p| p.locality.region.as_str()).collect();
    let zones: BTreeSet<&Locality> = members.iter().map(|p| &p.locality).collect();
    let wanted = if c.num_replicas == 0 {
        zone_replicas
    } else {
        c.num_replicas
    };
    let needed = needed_voters(wanted, members.len());
    Rule {
        needed,
        region_cap: needed.div_ceil(regions.len().max(1)),
        zone_cap: needed.div_ceil(zones.len().max(1)),
        regions: c.regions.clone(),
    }
}

/// What the allocator weighs once per decision.
struct Placement<'a> {
    peers: &'a Peers,
    zone_replicas: usize,
    counts: BTreeMap<NodeId, usize>,
    /// The rule of each distinct set of constraints the ranges have (a handful: the default zone's and one per
    /// multi-region database), resolved once per decision rather than once per range.
    rules: Vec<(Constraints, Rule)>,
}

impl<'a> Placement<'a> {
    fn new(peers: &'a Peers, ranges: &[Range], zone_replicas: usize) -> Placement<'a> {
        let mut counts: BTreeMap<NodeId, usize> = peers.keys().map(|id| (*id, 0)).collect();
        let mut rules: Vec<(Constraints, Rule)> = Vec::new();
        for r in ranges {
            for id in &r.replicas {
                *counts.entry(*id).or_default() += 1;
            }
            if !rules.iter().any(|(c, _)| *c == r.constraints) {
                let rule = resolve(peers, &r.constraints, zone_replicas);
                rules.push((r.constraints.clone(), rule));
            }
        }
        Placement {
            peers,
            zone_replicas,
            counts,
            rules,
        }
    }

    fn rule(&self, r: &Range) -> std::borrow::Cow<'_, Rule> {
        match self.rules.iter().find(|(c, _)| *c == r.constraints) {
            Some((_, rule)) => std::borrow::Cow::Borrowed(rule),
            None => {
                std::borrow::Cow::Owned(resolve(self.peers, &r.constraints, self.zone_replicas))
            }
        }
    }

    fn unusable(&self, id: NodeId) -> bool {
        self.peers.get(&id).is_none_or(Peer::unusable)
    }

    /// Unusable, or in a region the range may not be in.
    fn misplaced(&self, id: NodeId, rule: &Rule) -> bool {
        self.peers
            .get(&id)
            .is_none_or(|p| p.unusable() || !rule.allows(p))
    }

    fn in_region(&self, kept: &[NodeId], region: &str) -> usize {
        kept.iter()
            .filter(|k| {
                self.peers
                    .get(k)
                    .is_some_and(|p| p.locality.region == region)
            })
            .count()
    }

    fn in_zone(&self, kept: &[NodeId], zone: &Locality) -> usize {
        kept.iter()
            .filter(|k| self.peers.get(k).is_some_and(|p| p.locality == *zone))
            .count()
    }

    /// Whether `p` may hold a replica next to `kept` without piling the range into one locality.
    fn fits(&self, p: &Peer, kept: &[NodeId], rule: &Rule) -> bool {
        p.can_take()
            && rule.allows(p)
            && !kept.contains(&p.id)
            && self.in_region(kept, &p.locality.region) < rule.region_cap
            && self.in_zone(kept, &p.locality) < rule.zone_cap
    }

    /// The best node for a new replica of range `range` next to `kept`, never one in `exclude`: the most diverse
    /// locality first, then a node with few replicas. Nodes within `COUNT_BUCKET` replicas of each other are
    /// told apart by a hash of range and node, so ranges that share one node do not all share the others (as the
    /// real allocator's choices among equals do not line up either).
    fn target(
        &self,
        r: &Range,
        rule: &Rule,
        kept: &[NodeId],
        exclude: &[NodeId],
    ) -> Option<NodeId> {
        self.peers
            .values()
            .filter(|p| !exclude.contains(&p.id) && self.fits(p, kept, rule))
            .min_by_key(|p| {
                (
                    self.in_region(kept, &p.locality.region),
                    self.in_zone(kept, &p.locality),
                    self.counts.get(&p.id).copied().unwrap_or(0) / COUNT_BUCKET,
                    mix(r.id, p.id),
                    p.id,
                )
            })
            .map(|p| p.id)
    }

    fn crowded(&self, replicas: &[NodeId], id: NodeId, rule: &Rule) -> bool {
        self.peers.get(&id).is_some_and(|p| {
            self.in_region(replicas, &p.locality.region) > rule.region_cap
                || self.in_zone(replicas, &p.locality) > rule.zone_cap
        })
    }

    fn repair(&self, i: usize, r: &Range) -> Option<Action> {
        let rule = self.rule(r);
        let kept: Vec<NodeId> = r
            .replicas
            .iter()
            .copied()
            .filter(|id| !self.misplaced(*id, &rule))
            .collect();
        if let Some(&from) = r.replicas.iter().find(|id| self.misplaced(**id, &rule)) {
            if let Some(to) = self.target(r, &rule, &kept, &r.replicas) {
                return Some(Action::Move { range: i, from, to });
            }
            if kept.len() >= rule.needed {
                return Some(Action::Remove { range: i, from });
            }
        }
        if r.replicas.len() < rule.needed {
            if let Some(to) = self.target(r, &rule, &kept, &r.replicas) {
                return Some(Action::Add { range: i, to });
            }
        }
        if r.replicas.len() > rule.needed {
            let from = r.replicas.iter().copied().max_by_key(|id| {
                (
                    self.misplaced(*id, &rule),
                    self.crowded(&r.replicas, *id, &rule),
                    self.counts.get(id).copied().unwrap_or(0),
                )
            })?;
            return Some(Action::Remove { range: i, from });
        }
        r.replicas.iter().find_map(|&from| {
            if !self.crowded(&r.replicas, from, &rule) {
                return None;
            }
            let others: Vec<NodeId> = r.replicas.iter().copied().filter(|x| *x != from).collect();
            self.target(r, &rule, &others, &r.replicas)
                .map(|to| Action::Move { range: i, from, to })
        })
    }

    /// Moves a replica from a fuller node to one with clearly fewer (more than 5 % plus one apart), within the
    /// locality rules: the fullest pair that can trade.
    fn rebalance(&self, ranges: &[Range]) -> Option<Action> {
        let mut takers: Vec<(usize, NodeId)> = self
            .peers
            .values()
            .filter(|p| p.can_take())
            .map(|p| (self.counts.get(&p.id).copied().unwrap_or(0), p.id))
            .collect();
        if takers.is_empty() {
            return None;
        }
        takers.sort();
        let slack = 1 + takers.iter().map(|(c, _)| c).sum::<usize>() / takers.len() / 20;
        for &(most, from) in takers.iter().rev() {
            for &(fewer, to) in takers.iter().take_while(|(c, _)| most > c + slack) {
                debug_assert!(fewer < most);
                let peer = &self.peers[&to];
                let movable = ranges.iter().position(|r| {
                    r.replicas.contains(&from) && has_quorum(self.peers, r) && {
                        let others: Vec<NodeId> =
                            r.replicas.iter().copied().filter(|x| *x != from).collect();
                        self.fits(peer, &others, &self.rule(r))
                    }
                });
                if let Some(range) = movable {
                    return Some(Action::Move { range, from, to });
                }
            }
        }
        None
    }
}

/// The next change the allocator would make, if any: replace replicas on dead, lost or leaving nodes, then
/// up- and down-replicate to the needed count, then fix localities holding too many replicas of a range, then
/// balance counts. Ranges without quorum cannot change.
pub fn next_action(peers: &Peers, ranges: &[Range], zone_replicas: usize) -> Option<Action> {
    let placement = Placement::new(peers, ranges, zone_replicas);
    ranges
        .iter()
        .enumerate()
        .filter(|(_, r)| has_quorum(peers, r))
        .find_map(|(i, r)| placement.repair(i, r))
        .or_else(|| placement.rebalance(ranges))
}

pub fn apply(ranges: &mut [Range], action: Action) {
    let (i, from, to) = match action {
        Action::Add { range, to } => (range, None, Some(to)),
        Action::Remove { range, from } => (range, Some(from), None),
        Action::Move { range, from, to } => (range, Some(from), Some(to)),
    };
    let Some(r) = ranges.get_mut(i) else {
        return;
    };
    if let Some(from) = from {
        r.replicas.retain(|x| *x != from);
    }
    if let Some(to) = to.filter(|to| !r.replicas.contains(to)) {
        r.replicas.push(to);
    }
}

/// Moves leases off nodes that are not live or are leaving, onto a live replica (spread by range id), for ranges
/// that have the quorum a lease transfer needs.
pub fn place_leases(peers: &Peers, ranges: &mut [Range]) {
    for r in ranges.iter_mut() {
        let holds = |id: &NodeId| peers.get(id).is_some_and(|p| p.live && !p.leaving);
        if r.leaseholder
            .is_some_and(|l| r.replicas.contains(&l) && holds(&l))
            || !has_quorum(peers, r)
        {
            continue;
        }
        let live: Vec<NodeId> = r.replicas.iter().copied().filter(holds).collect();
        if !live.is_empty() {
            r.leaseholder = Some(live[r.id as usize % live.len()]);
        }
    }
}

/// Why each leaving node could not hand its replicas over, as `cockroach node decommission`'s pre-flight checks
/// print it; empty when every replica has somewhere to go.
pub fn decommission_blockers(
    peers: &Peers,
    ranges: &[Range],
    zone_replicas: usize,
    leaving: &[NodeId],
) -> Vec<String> {
    let mut planned = peers.clone();
    for id in leaving {
        if let Some(p) = planned.get_mut(id) {
            p.leaving = true;
        }
    }
    let placement = Placement::new(&planned, ranges, zone_replicas);
    let mut out = Vec::new();
    for id in leaving {
        let mut blocked = 0;
        let mut example = None;
        for r in ranges.iter().filter(|r| r.replicas.contains(id)) {
            let rule = placement.rule(r);
            let kept: Vec<NodeId> = r
                .replicas
                .iter()
                .copied()
                .filter(|x| !placement.unusable(*x))
                .collect();
            if placement.target(r, &rule, &kept, &r.replicas).is_none() && kept.len() < rule.needed
            {
                blocked += 1;
                let live_others = planned
                    .values()
                    .filter(|p| p.can_take() && !r.replicas.contains(&p.id))
                    .count();
                example.get_or_insert((live_others, kept.len()));
            }
        }
        if let Some((live_others, voters)) = example {
            out.push(format!(
                "n{id} has {blocked} replicas blocked with error: \"0 of {live_others} live stores are able to take a new replica for the range ({voters} already have a voter, 0 already have a non-voter); likely not enough nodes in cluster\""
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: NodeId, region: &str, zone: &str) -> Peer {
        Peer {
            id,
            locality: Locality {
                region: region.into(),
                zone: zone.into(),
            },
            live: true,
            dead: false,
            leaving: false,
            store_lost: false,
        }
    }

    /// Three regions of three nodes: 1-3 in r0, 4-6 in r1, 7-9 in r2.
    fn nine() -> Peers {
        (1..=9)
            .map(|id| {
                let r = format!("r{}", (id - 1) / 3);
                (id, peer(id, &r, &r))
            })
            .collect()
    }

    fn settle(peers: &Peers, ranges: &mut [Range], rf: usize) -> usize {
        let mut steps = 0;
        while let Some(a) = next_action(peers, ranges, rf) {
            apply(ranges, a);
            steps += 1;
            assert!(steps < 10_000, "the allocator does not settle");
        }
        place_leases(peers, ranges);
        steps
    }

    fn fresh(n: u32) -> Vec<Range> {
        (1..=n)
            .map(|id| Range {
                id,
                replicas: vec![1],
                leaseholder: Some(1),
                constraints: Constraints::default(),
            })
            .collect()
    }

    fn regions_of(peers: &Peers, r: &Range) -> BTreeSet<String> {
        r.replicas
            .iter()
            .map(|id| peers[id].locality.region.clone())
            .collect()
    }

    #[test]
    fn needed_voters_follows_cockroachdb() {
        assert_eq!(needed_voters(3, 9), 3);
        assert_eq!(needed_voters(3, 1), 3);
        assert_eq!(needed_voters(5, 3), 3);
        assert_eq!(needed_voters(5, 4), 3);
        assert_eq!(needed_voters(5, 9), 5);
    }

    #[test]
    fn replicas_spread_over_regions_then_balance_by_count() {
        let peers = nine();
        let mut ranges = fresh(90);
        settle(&peers, &mut ranges, 3);
        for r in &ranges {
            assert_eq!(r.replicas.len(), 3);
            assert_eq!(regions_of(&peers, r).len(), 3, "{r:?}");
        }
        let counts = Placement::new(&peers, &ranges, 3).counts;
        let (min, max) = (counts.values().min(), counts.values().max());
        assert!(max.unwrap() - min.unwrap() <= 2, "{counts:?}");
        assert!(ranges
            .iter()
            .all(|r| health(&peers, r, 3) == RangeHealth::default()));
    }

    #[test]
    fn one_region_down_is_under_replicated_two_unavailable_and_nothing_moves_without_a_spare() {
        let mut peers = nine();
        let mut ranges = fresh(30);
        settle(&peers, &mut ranges, 3);
        for id in 7..=9 {
            let p = peers.get_mut(&id).unwrap();
            p.live = false;
            p.dead = true;
        }
        assert_eq!(next_action(&peers, &ranges, 3), None, "no spare region");
        assert!(ranges.iter().all(|r| {
            let h = health(&peers, r, 3);
            h.under_replicated && !h.unavailable
        }));
        for id in 4..=6 {
            peers.get_mut(&id).unwrap().live = false;
        }
        assert!(ranges.iter().all(|r| health(&peers, r, 3).unavailable));
    }

    #[test]
    fn ranges_sharing_one_node_do_not_all_share_the_others() {
        let mut peers = nine();
        let mut ranges = fresh(300);
        settle(&peers, &mut ranges, 3);
        for id in [1, 4] {
            peers.get_mut(&id).unwrap().live = false;
        }
        let unavailable = ranges
            .iter()
            .filter(|r| health(&peers, r, 3).unavailable)
            .count();
        // Independent choices would give 300 / 9 = 33; lockstep placement would give 100.
        assert!((15..=60).contains(&unavailable), "{unavailable}");
    }

    #[test]
    fn a_dead_node_is_replaced_when_a_spare_locality_exists() {
        let mut peers = nine();
        peers.insert(10, peer(10, "r3", "r3"));
        let mut ranges = fresh(40);
        settle(&peers, &mut ranges, 3);
        let p = peers.get_mut(&7).unwrap();
        p.live = false;
        p.dead = true;
        settle(&peers, &mut ranges, 3);
        assert!(ranges.iter().all(|r| !r.replicas.contains(&7)));
        assert!(ranges.iter().all(|r| regions_of(&peers, r).len() == 3));
    }

    #[test]
    fn decommission_drains_or_is_refused_when_nobody_can_take_the_replicas() {
        let mut peers: Peers = (1..=3).map(|id| (id, peer(id, "r", "z"))).collect();
        let mut ranges = fresh(20);
        settle(&peers, &mut ranges, 3);
        let blockers = decommission_blockers(&peers, &ranges, 3, &[3]);
        assert_eq!(blockers.len(), 1);
        assert!(
            blockers[0].starts_with("n3 has 20 replicas blocked with error: \"0 of 0 live stores"),
            "{blockers:?}"
        );
        peers.insert(4, peer(4, "r", "z"));
        settle(&peers, &mut ranges, 3);
        assert!(decommission_blockers(&peers, &ranges, 3, &[3]).is_empty());
        peers.get_mut(&3).unwrap().leaving = true;
        settle(&peers, &mut ranges, 3);
        assert!(ranges
            .iter()
            .all(|r| !r.replicas.contains(&3) && r.replicas.len() == 3));
    }

    #[test]
    fn replicas_on_deleted_volumes_only_are_lost() {
        let mut peers = nine();
        let ranges = [Range {
            id: 1,
            replicas: vec![1, 2, 4],
            leaseholder: Some(1),
            constraints: Constraints::default(),
        }];
        for id in [1, 2] {
            peers.get_mut(&id).unwrap().store_lost = true;
        }
        assert!(!health(&peers, &ranges[0], 3).lost);
        peers.get_mut(&4).unwrap().store_lost = true;
        assert!(health(&peers, &ranges[0], 3).lost);
    }

    #[test]
    fn five_replicas_when_the_zone_config_asks_and_there_are_enough_nodes() {
        let peers = nine();
        let mut ranges = fresh(10);
        settle(&peers, &mut ranges, 5);
        assert!(ranges.iter().all(|r| r.replicas.len() == 5));
        assert!(ranges.iter().all(|r| regions_of(&peers, r).len() == 3));
    }

    #[test]
    fn metrics_are_counted_by_the_leaseholder_or_the_first_live_replica() {
        let mut peers = nine();
        let r = Range {
            id: 1,
            replicas: vec![1, 4, 7],
            leaseholder: Some(4),
            constraints: Constraints::default(),
        };
        assert_eq!(range_counter(&peers, &r), Some(4));
        peers.get_mut(&4).unwrap().live = false;
        assert_eq!(range_counter(&peers, &r), Some(1));
        for id in [1, 7] {
            peers.get_mut(&id).unwrap().live = false;
        }
        assert_eq!(range_counter(&peers, &r), None);
    }
}
