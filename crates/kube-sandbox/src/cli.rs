//! Command-line options of the `kube-sandbox` binary.

use std::path::PathBuf;
use std::time::Duration;

use crate::sandbox::{ClusterOptions, SandboxOptions};

pub const USAGE: &str = "usage: kube-sandbox --clusters NAME[,NAME...] --kubeconfig PATH [--latency-ms N] [--fault-rate F] \
[--seed S] [--speed X] [--dns kube-dns|coredns|cloud-dns|NAME=FLAVOUR,...] [--lb-hostnames] \
[--lb-rules permissive|eks|gke] [--ranges N] \
[--block FROM:TO:PORT[,...]]";

#[derive(Debug)]
pub struct Cli {
    pub options: SandboxOptions,
    pub kubeconfig: PathBuf,
}

fn flavour(s: &str) -> Result<String, String> {
    match s {
        "kube-dns" | "coredns" | "cloud-dns" => Ok(s.to_string()),
        other => Err(format!(
            "unknown DNS flavour {other:?}: use kube-dns, coredns or cloud-dns"
        )),
    }
}

pub fn parse(args: &[String]) -> Result<Cli, String> {
    let mut names: Vec<String> = Vec::new();
    let mut kubeconfig = None;
    let mut options = SandboxOptions::new(&[]);
    // The binary serves whole clusters: bootstrap contents and controllers included.
    options.controllers = true;
    let mut dns = String::from("kube-dns");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag {
            "--clusters" => {
                names = value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value()?)),
            "--latency-ms" => {
                options.latency = Duration::from_millis(
                    value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?,
                )
            }
            "--fault-rate" => {
                let rate: f64 = value()?.parse().map_err(|e| format!("--fault-rate: {e}"))?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err("--fault-rate must be between 0 and 1".into());
                }
                options.fault_rate = rate;
            }
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--speed" => {
                options.speed = value()?.parse().map_err(|e| format!("--speed: {e}"))?;
                if options.speed <= 0.0 {
                    return Err("--speed must be positive".into());
                }
            }
            "--dns" => dns = value()?,
            "--lb-hostnames" => options.lb_hostnames = true,
            "--lb-rules" => options.lb_rules = value()?.parse()?,
            "--ranges" => {
                options.ranges = value()?.parse().map_err(|e| format!("--ranges: {e}"))?
            }
            "--block" => {
                for path in value()?.split(',').filter(|s| !s.is_empty()) {
                    options
                        .blocked
                        .push(path.parse().map_err(|e| format!("--block: {e}"))?);
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if names.is_empty() {
        return Err(format!("--clusters is required\n{USAGE}"));
    }
    let kubeconfig = kubeconfig.ok_or(format!("--kubeconfig is required\n{USAGE}"))?;
    if let Some(path) = options
        .blocked
        .iter()
        .find(|p| !names.contains(&p.from) || !names.contains(&p.to))
    {
        return Err(format!(
            "--block names an unknown cluster in {}:{}:{}",
            path.from, path.to, path.port
        ));
    }
    // `--dns coredns` for all, or `--dns a=kube-dns,b=coredns` per cluster (others keep kube-dns).
    let mut per_cluster = std::collections::HashMap::new();
    let mut default_dns = String::from("kube-dns");
    for part in dns.split(',') {
        match part.split_once('=') {
            Some((name, f)) => {
                if !names.iter().any(|n| n == name) {
                    return Err(format!("--dns names unknown cluster {name:?}"));
                }
                per_cluster.insert(name.to_string(), flavour(f)?);
            }
            None => default_dns = flavour(part)?,
        }
    }
    options.clusters = names
        .into_iter()
        .map(|name| ClusterOptions {
            dns: per_cluster
                .get(&name)
                .cloned()
                .unwrap_or_else(|| default_dns.clone()),
            name,
        })
        .collect();
    Ok(Cli {
        options,
        kubeconfig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_everything() {
        let cli = parse(&args("--clusters a,b,c --kubeconfig /tmp/k --latency-ms 40 --fault-rate 0.1 --seed 9 --speed 20 --dns b=coredns,c=cloud-dns --lb-hostnames --lb-rules eks --ranges 40")).unwrap();
        assert_eq!(cli.options.lb_rules, crate::world::LbRules::Eks);
        assert_eq!(cli.options.ranges, 40);
        let o = cli.options;
        assert_eq!(
            o.clusters
                .iter()
                .map(|c| (c.name.as_str(), c.dns.as_str()))
                .collect::<Vec<_>>(),
            [("a", "kube-dns"), ("b", "coredns"), ("c", "cloud-dns")]
        );
        assert_eq!(
            (o.latency, o.fault_rate, o.seed, o.speed, o.lb_hostnames),
            (Duration::from_millis(40), 0.1, 9, 20.0, true)
        );
        assert!(parse(&args("--clusters a --kubeconfig k --dns x=coredns")).is_err());
        assert!(parse(&args("--kubeconfig k")).is_err());
        let blocked = parse(&args(
            "--clusters a,b --kubeconfig k --block a:b:26257,b:a:8080",
        ))
        .unwrap()
        .options
        .blocked;
        assert_eq!(
            blocked
                .iter()
                .map(|p| (p.from.as_str(), p.to.as_str(), p.port))
                .collect::<Vec<_>>(),
            [("a", "b", 26257), ("b", "a", 8080)]
        );
        assert!(parse(&args("--clusters a,b --kubeconfig k --block a:c:26257")).is_err());
        assert!(parse(&args("--clusters a,b --kubeconfig k --block a:b")).is_err());
        assert_eq!(
            parse(&args("--clusters=a --kubeconfig=k --dns=coredns"))
                .unwrap()
                .options
                .clusters[0]
                .dns,
            "coredns"
        );
    }
}
