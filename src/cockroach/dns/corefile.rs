//! CoreDNS: one server block per peer zone, in the `Corefile` of ConfigMap `kube-system/coredns`, or (AKS, whose
//! add-on manager reverts edits to that ConfigMap) one `<key>.server` entry per zone in `coredns-custom`.
//!
//! In a Corefile our blocks are told apart by a marker comment on the line right above them plus their exact key,
//! `<domain>:53`. A block is appended as a blank line, the marker and the block; removal takes out exactly that,
//! so adding then removing gives back the Corefile byte for byte.

use super::error::DnsError;
use super::forwards::{ForwardMap, Forwards};
use crate::cockroach::manifests::DnsProtocol;

/// Comment prefix of the line above each of our blocks; the domain follows.
pub const BLOCK_MARKER: &str = "# terraform-provider-crdb: forwards ";

fn marker(domain: &str) -> String {
    format!("{BLOCK_MARKER}{domain}")
}

/// The server block that forwards `domain` to `addresses` with the one protocol their load balancer serves.
/// CoreDNS's forward plugin otherwise asks upstreams with the protocol the query came in on, so TCP queries (a
/// client retrying a truncated answer) would go unanswered by a UDP-only load balancer and UDP ones by a TCP-only
/// one: `prefer_udp` sends every query over UDP, `force_tcp` every query over TCP (as the original EKS procedure's
/// CoreDNS did for its TCP load balancer).
pub fn server_block(domain: &str, addresses: &[std::net::IpAddr], protocol: DnsProtocol) -> String {
    let upstreams: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    let option = match protocol {
        DnsProtocol::Udp => "prefer_udp",
        DnsProtocol::Tcp => "force_tcp",
    };
    format!(
        "{domain}:53 {{\n    errors\n    cache 30\n    forward . {} {{\n        {option}\n    }}\n}}\n",
        upstreams.join(" ")
    )
}

/// One line of the Corefile: where it starts and ends (newline included) in the text.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

/// A top-level server block, located in the text.
#[derive(Debug)]
struct Block {
    first_line: usize,
    last_line: usize,
    /// The keys as written (`east.svc.cluster.local:53`).
    keys: Vec<String>,
    /// Words of the directives at the block's top level.
    directives: Vec<Vec<String>>,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        out.push(Line {
            start,
            end: start + piece.len(),
        });
        start += piece.len();
    }
    out
}

/// The code of a line: everything before a `#` that starts a word (CoreDNS comments), braces spaced apart.
fn words(line: &str) -> Vec<String> {
    let mut code = String::new();
    let mut previous = ' ';
    for c in line.chars() {
        if c == '#' && previous.is_whitespace() {
            break;
        }
        code.push(c);
        previous = c;
    }
    code.replace('{', " { ")
        .replace('}', " } ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn blocks(text: &str, lines: &[Line]) -> Vec<Block> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<Block> = None;
    let mut pending_keys: Vec<String> = Vec::new();
    let mut pending_first = 0;
    for (index, line) in lines.iter().enumerate() {
        let mut statement: Vec<String> = Vec::new();
        for word in words(&text[line.start..line.end]) {
            match word.as_str() {
                "{" => {
                    if depth == 0 {
                        if pending_keys.is_empty() {
                            pending_first = index;
                        }
                        pending_keys.append(&mut statement);
                        current = Some(Block {
                            first_line: pending_first,
                            last_line: index,
                            keys: std::mem::take(&mut pending_keys),
                            directives: Vec::new(),
                        });
                    } else if depth == 1 {
                        if let Some(block) = current.as_mut() {
                            block.directives.push(std::mem::take(&mut statement));
                        }
                    }
                    depth += 1;
                }
                "}" => {
                    if depth == 1 {
                        if let Some(block) = current.as_mut() {
                            if !statement.is_empty() {
                                block.directives.push(std::mem::take(&mut statement));
                            }
                        }
                    }
                    depth = depth.saturating_sub(1);
                    statement.clear();
                    if depth == 0 {
                        if let Some(mut block) = current.take() {
                            block.last_line = index;
                            found.push(block);
                        }
                    }
                }
                _ => statement.push(word),
            }
        }
        match depth {
            // A line of keys ending in `,` continues on the next line; any other top-level line without a `{`
            // (`import custom/*.server`) is a statement of its own, not keys of the block that follows.
            0 if statement.last().is_some_and(|w| w.ends_with(',')) => {
                if pending_keys.is_empty() {
                    pending_first = index;
                }
                pending_keys.append(&mut statement);
            }
            0 => pending_keys.clear(),
            1 if !statement.is_empty() => {
                if let Some(block) = current.as_mut() {
                    block.directives.push(statement);
                }
            }
            _ => {}
        }
    }
    found
}

/// `dns://East.svc.cluster.local.:53` -> `east.svc.cluster.local`, and whether the key listens on port 53 (or none).
fn key_domain(key: &str) -> (String, bool) {
    let key = key.trim_end_matches(',');
    let key = key.strip_prefix("dns://").unwrap_or(key);
    let (host, port_ok) = match key.rsplit_once(':') {
        Some((host, port)) => (host, port == "53"),
        None => (key, true),
    };
    (host.trim_end_matches('.').to_ascii_lowercase(), port_ok)
}

/// Our block for `domain`: the marker on the line above and the single exact key.
fn is_ours(text: &str, lines: &[Line], block: &Block, domain: &str) -> bool {
    block.first_line > 0 && block.keys == [format!("{domain}:53")] && {
        let above = lines[block.first_line - 1];
        text[above.start..above.end].trim_end() == marker(domain)
    }
}

fn ours_for<'a>(
    text: &str,
    lines: &[Line],
    blocks: &'a [Block],
    domain: &str,
) -> Option<&'a Block> {
    blocks.iter().find(|b| is_ours(text, lines, b, domain))
}

/// The domain of one of our blocks, if it is one.
fn our_domain(text: &str, lines: &[Line], block: &Block) -> Option<String> {
    let [key] = block.keys.as_slice() else {
        return None;
    };
    let domain = key.strip_suffix(":53")?;
    is_ours(text, lines, block, domain).then(|| domain.to_owned())
}

/// The domains whose block (ours, in a Corefile or `coredns-custom` entry) forwards with `force_tcp`: what an
/// earlier apply, or a version that forced TCP for every peer, wrote.
pub fn domains_forwarded_over_tcp(text: &str) -> std::collections::BTreeSet<String> {
    let lines = lines(text);
    blocks(text, &lines)
        .iter()
        .filter(|b| {
            text[lines[b.first_line].start..lines[b.last_line].end]
                .lines()
                .any(|line| line.trim() == "force_tcp")
        })
        .filter_map(|b| match b.keys.as_slice() {
            [key] => Some(key.strip_suffix(":53")?.to_owned()),
            _ => None,
        })
        .collect()
}

/// Adds or replaces our server blocks in `corefile`. A block for one of the domains that we did not write is an
/// error: CoreDNS will not start with two blocks for one zone, and it is not ours to replace.
pub fn merge_corefile(corefile: &str, forwards: &Forwards) -> Result<String, DnsError> {
    let lines = lines(corefile);
    let blocks = blocks(corefile, &lines);
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let mut appended = String::new();
    for (zone, domain, addresses) in forwards.entries() {
        let block = server_block(&domain, addresses, forwards.protocol(zone));
        let chunk = format!("{}\n{}", marker(&domain), block);
        if let Some(block) = ours_for(corefile, &lines, &blocks, &domain) {
            let start = lines[block.first_line - 1].start;
            let end = lines[block.last_line].end;
            let keeps_newline = corefile[..end].ends_with('\n');
            let chunk = if keeps_newline {
                chunk
            } else {
                chunk.trim_end_matches('\n').to_owned()
            };
            replacements.push((start, end, chunk));
            continue;
        }
        let foreign = blocks.iter().any(|b| {
            b.keys.iter().any(|k| {
                let (key, port_53) = key_domain(k);
                key == domain && port_53
            })
        });
        if foreign {
            return Err(DnsError::ForeignServerBlock(domain));
        }
        appended.push('\n');
        appended.push_str(&chunk);
    }
    let mut text = corefile.to_owned();
    replacements.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    for (start, end, chunk) in replacements {
        text.replace_range(start..end, &chunk);
    }
    text.push_str(&appended);
    Ok(text)
}

/// Takes exactly our blocks for `domains` out of `corefile`, each with the blank line that separated it.
pub fn remove_from_corefile(corefile: &str, domains: &[String]) -> String {
    let lines = lines(corefile);
    let blocks = blocks(corefile, &lines);
    let mut cuts: Vec<(usize, usize)> = blocks
        .iter()
        .filter(|b| our_domain(corefile, &lines, b).is_some_and(|d| domains.contains(&d)))
        .map(|b| {
            let start = lines[b.first_line - 1].start;
            // The newline before the marker is the one we added with it.
            let start = if start > 0 { start - 1 } else { start };
            (start, lines[b.last_line].end)
        })
        .collect();
    cuts.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
    let mut text = corefile.to_owned();
    for (start, end) in cuts {
        text.replace_range(start..end, "");
    }
    text
}

/// The domains our blocks forward and their upstreams, for drift detection.
pub fn read_corefile_forwards(corefile: &str) -> ForwardMap {
    let lines = lines(corefile);
    blocks(corefile, &lines)
        .iter()
        .filter_map(|b| Some((our_domain(corefile, &lines, b)?, upstreams(b))))
        .collect()
}

/// The addresses of a block's `forward . <addr>...` directive.
fn upstreams(block: &Block) -> Vec<String> {
    block
        .directives
        .iter()
        .find(|d| d.first().map(String::as_str) == Some("forward"))
        .map(|d| d.iter().skip(2).cloned().collect())
        .unwrap_or_default()
}

/// The `coredns-custom` key of one zone's block. AKS imports every `*.server` key as server blocks; each key is
/// one zone, so ours are found and removed by key alone.
pub fn coredns_custom_key(zone: &str) -> String {
    format!("crdb-{zone}.server")
}

/// Key -> server block for `coredns-custom`, one per peer zone.
pub fn coredns_custom_entries(forwards: &Forwards) -> std::collections::BTreeMap<String, String> {
    forwards
        .entries()
        .map(|(zone, domain, addresses)| {
            let block = server_block(&domain, addresses, forwards.protocol(zone));
            (coredns_custom_key(zone), block)
        })
        .collect()
}

/// What our `coredns-custom` keys forward, from the ConfigMap's data.
pub fn read_coredns_custom_forwards(
    data: &std::collections::BTreeMap<String, String>,
) -> ForwardMap {
    data.iter()
        .filter(|(key, _)| key.starts_with("crdb-") && key.ends_with(".server"))
        .flat_map(|(_, text)| {
            let lines = lines(text);
            blocks(text, &lines)
                .into_iter()
                .filter_map(|b| match b.keys.as_slice() {
                    [key] => Some((key.strip_suffix(":53")?.to_owned(), upstreams(&b))),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::forwards::for_tests::forwards;
    use std::collections::BTreeMap;

    use super::*;

    /// An EKS/kind-like Corefile, with someone else's block and comments.
    const COREFILE: &str = ".:53 {
    errors
    health {
        lameduck 5s
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    reload
}
# the platform team's block
corp.example:53 {
    forward . 10.9.9.9
}
";

    fn two_peers() -> Forwards {
        forwards(&[
            ("east", &["203.0.113.2", "198.51.100.7"]),
            ("west", &["203.0.113.1"]),
        ])
    }

    #[test]
    fn the_server_block_forwards_with_the_protocol_of_the_peer_load_balancer() {
        let address = ["203.0.113.2".parse().unwrap()];
        assert_eq!(
            server_block("east.svc.cluster.local", &address, DnsProtocol::Tcp),
            "east.svc.cluster.local:53 {\n    errors\n    cache 30\n    forward . 203.0.113.2 {\n        force_tcp\n    }\n}\n"
        );
        assert_eq!(
            server_block("east.svc.cluster.local", &address, DnsProtocol::Udp),
            "east.svc.cluster.local:53 {\n    errors\n    cache 30\n    forward . 203.0.113.2 {\n        prefer_udp\n    }\n}\n"
        );
        let tcp_east = BTreeMap::from([("east".to_owned(), DnsProtocol::Tcp)]);
        let merged = merge_corefile(COREFILE, &two_peers().with_protocols(&tcp_east)).unwrap();
        let east = &merged[merged.find("east.svc").unwrap()..];
        let west = &merged[merged.find("west.svc").unwrap()..];
        assert!(
            east[..east.find("}\n}").unwrap()].contains("force_tcp"),
            "{merged}"
        );
        assert!(
            west[..west.find("}\n}").unwrap()].contains("prefer_udp"),
            "{merged}"
        );
        assert_eq!(
            domains_forwarded_over_tcp(&merged)
                .into_iter()
                .collect::<Vec<_>>(),
            ["east.svc.cluster.local"]
        );
    }

    #[test]
    fn merging_appends_marked_blocks_and_keeps_everything_else() {
        let merged = merge_corefile(COREFILE, &two_peers()).unwrap();
        assert!(
            merged.starts_with(COREFILE),
            "existing text untouched:\n{merged}"
        );
        assert!(merged.contains("# terraform-provider-crdb: forwards east.svc.cluster.local\neast.svc.cluster.local:53 {"));
        assert!(merged.contains("forward . 203.0.113.2 198.51.100.7 {"));
        assert!(!merged.contains("north.svc"));
        let read = read_corefile_forwards(&merged);
        assert_eq!(
            read,
            BTreeMap::from([
                (
                    "east.svc.cluster.local".to_owned(),
                    vec!["203.0.113.2".to_owned(), "198.51.100.7".to_owned()]
                ),
                (
                    "west.svc.cluster.local".to_owned(),
                    vec!["203.0.113.1".to_owned()]
                ),
            ])
        );
        assert!(
            read_corefile_forwards(COREFILE).is_empty(),
            "foreign blocks are not ours"
        );
    }

    #[test]
    fn add_then_remove_is_the_identity() {
        for original in [
            COREFILE,
            COREFILE.trim_end(),
            "",
            ".:53 { forward . 8.8.8.8 }",
        ] {
            let merged = merge_corefile(original, &two_peers()).unwrap();
            let removed = remove_from_corefile(&merged, &two_peers().domains());
            assert_eq!(removed, original);
            // One at a time, in either order.
            let east_only = remove_from_corefile(&merged, &["east.svc.cluster.local".to_owned()]);
            assert_eq!(read_corefile_forwards(&east_only).len(), 1);
            assert_eq!(
                remove_from_corefile(&east_only, &["west.svc.cluster.local".to_owned()]),
                original
            );
        }
    }

    #[test]
    fn merging_again_replaces_in_place_and_is_idempotent() {
        let merged = merge_corefile(COREFILE, &two_peers()).unwrap();
        assert_eq!(merge_corefile(&merged, &two_peers()).unwrap(), merged);
        let moved = merge_corefile(&merged, &forwards(&[("east", &["192.0.2.44"])])).unwrap();
        assert_eq!(moved.matches("east.svc.cluster.local:53").count(), 1);
        assert_eq!(
            read_corefile_forwards(&moved)["east.svc.cluster.local"],
            vec!["192.0.2.44"]
        );
        assert_eq!(
            read_corefile_forwards(&moved)["west.svc.cluster.local"],
            vec!["203.0.113.1"]
        );
        assert_eq!(
            remove_from_corefile(&moved, &two_peers().domains()),
            COREFILE
        );
    }

    #[test]
    fn a_block_someone_else_wrote_for_our_zone_is_a_conflict() {
        let theirs =
            format!("{COREFILE}east.svc.cluster.local:53 {{\n    forward . 10.0.0.1\n}}\n");
        assert_eq!(
            merge_corefile(&theirs, &two_peers()),
            Err(DnsError::ForeignServerBlock(
                "east.svc.cluster.local".into()
            ))
        );
        assert_eq!(
            remove_from_corefile(&theirs, &two_peers().domains()),
            theirs,
            "and never removed"
        );
        let without_port =
            format!("{COREFILE}dns://East.svc.cluster.local. {{\n forward . 10.0.0.1\n}}\n");
        assert!(merge_corefile(&without_port, &two_peers()).is_err());
        let other_port =
            format!("{COREFILE}east.svc.cluster.local:5353 {{\n forward . 10.0.0.1\n}}\n");
        assert!(
            merge_corefile(&other_port, &two_peers()).is_ok(),
            "another port is another server"
        );
    }

    #[test]
    fn top_level_statements_are_not_taken_for_keys() {
        let with_import = ".:53 {\n    forward . /etc/resolv.conf\n}\nimport custom/*.server\n";
        let merged = merge_corefile(with_import, &two_peers()).unwrap();
        assert_eq!(merge_corefile(&merged, &two_peers()).unwrap(), merged);
        assert_eq!(read_corefile_forwards(&merged).len(), 2);
        assert_eq!(
            remove_from_corefile(&merged, &two_peers().domains()),
            with_import
        );
        let split_keys = format!(
            "{COREFILE}corp.example:53,\neast.svc.cluster.local:53 {{\n forward . 10.0.0.1\n}}\n"
        );
        assert_eq!(
            merge_corefile(&split_keys, &two_peers()),
            Err(DnsError::ForeignServerBlock(
                "east.svc.cluster.local".into()
            )),
            "keys continued over lines are still keys"
        );
    }

    #[test]
    fn a_marker_without_the_exact_key_does_not_make_a_block_ours() {
        let tampered = format!(
            "{COREFILE}\n{}east.svc.cluster.local\neast.svc.cluster.local:53 other.zone:53 {{\n forward . 10.0.0.1\n}}\n",
            BLOCK_MARKER
        );
        assert!(read_corefile_forwards(&tampered).is_empty());
        assert_eq!(
            remove_from_corefile(&tampered, &two_peers().domains()),
            tampered
        );
    }

    #[test]
    fn aks_custom_entries_are_one_key_per_zone() {
        let entries = coredns_custom_entries(&two_peers());
        assert_eq!(
            entries.keys().collect::<Vec<_>>(),
            vec!["crdb-east.server", "crdb-west.server"]
        );
        let mut data = entries.clone();
        data.insert(
            "corp.server".into(),
            "corp.example:53 {\n forward . 10.9.9.9\n}\n".into(),
        );
        let read = read_coredns_custom_forwards(&data);
        assert_eq!(read.len(), 2);
        assert_eq!(
            read["east.svc.cluster.local"],
            vec!["203.0.113.2", "198.51.100.7"]
        );
    }
}
