//! What a container would run, read from its image, command and args: `cockroach start ...`, `cockroach init ...`,
//! `cockroach node decommission ...`, `cockroach sql -e ...` or anything else. Shell wrappers
//! (`/bin/bash -ecx "exec /cockroach/cockroach start ..."`) are common in the public manifests, so when the command
//! is a shell its strings are split into words; an exec-form command keeps each element as one word, as the
//! kubelet passes it (`-e` and the whole SQL statement).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Start(CockroachArgs),
    Init(CockroachArgs),
    /// `cockroach node decommission <ids>... | --self`.
    Decommission(CockroachArgs),
    /// `cockroach sql -e <statements>...`.
    Sql(CockroachArgs),
    /// `cockroach node status [--all] [--ranges] [--stats] [--decommission] [--format=csv|tsv]`.
    NodeStatus(CockroachArgs),
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CockroachArgs {
    pub certs_dir: Option<String>,
    pub insecure: bool,
    pub join: Vec<String>,
    pub host: Option<String>,
    pub advertise_host: Option<String>,
    /// `--locality=region=...,zone=...`.
    pub locality: Option<String>,
    /// Arguments that are not flags (node IDs for `node decommission`).
    pub positional: Vec<String>,
    pub self_: bool,
    /// The statements of `cockroach sql -e/--execute`, one per flag.
    pub execute: Vec<String>,
    /// `cockroach sql -f/--file`: a file of statements.
    pub file: Option<String>,
    /// `--format` of client commands (`csv`, `tsv`, `table`...).
    pub format: Option<String>,
    /// `node status` column groups: `--all`, `--ranges`, `--stats`, `--decommission`.
    pub all: bool,
    pub show_ranges: bool,
    pub show_stats: bool,
    pub show_decommission: bool,
}

/// Reads one container spec. Only images whose name contains `cockroach` run the emulated binary.
pub fn invocation(container: &Value) -> Invocation {
    invocations(container)
        .into_iter()
        .find(|i| *i != Invocation::Other)
        .unwrap_or(Invocation::Other)
}

/// Every cockroach command a container runs in order: a shell script of commands joined by `&&` (the next runs
/// only when the one before succeeded) gives one each; any other container gives one.
pub fn invocations(container: &Value) -> Vec<Invocation> {
    let (words, through_shell, env_certs_dir) = container_words(container);
    if !through_shell {
        return vec![invocation_of(&words, env_certs_dir)];
    }
    words
        .split(|w| w == "&&")
        .map(|step| invocation_of(step, env_certs_dir.clone()))
        .collect()
}

/// The container's words (a shell script's split into words), whether it runs a shell, and its
/// `COCKROACH_CERTS_DIR`; no words for an image that is not cockroach.
fn container_words(container: &Value) -> (Vec<String>, bool, Option<String>) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    if !image.contains("cockroach") {
        return (Vec::new(), false, None);
    }
    let through_shell = container
        .pointer("/command/0")
        .and_then(Value::as_str)
        .and_then(|c| c.rsplit('/').next())
        .is_some_and(|c| matches!(c, "sh" | "bash" | "ash" | "dash"));
    let mut words = Vec::new();
    for key in ["command", "args"] {
        for part in container
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(s) = part.as_str() {
                if through_shell {
                    words.extend(shell_words(s));
                } else {
                    words.push(s.to_string());
                }
            }
        }
    }
    let env_certs_dir = container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("name").and_then(Value::as_str) == Some("COCKROACH_CERTS_DIR"))
        .and_then(|e| e.get("value").and_then(Value::as_str))
        .map(str::to_string);
    (words, through_shell, env_certs_dir)
}

fn invocation_of(words: &[String], env_certs_dir: Option<String>) -> Invocation {
    // The image's entrypoint is the cockroach binary itself, so args may start directly with the subcommand.
    let sub_at = words.iter().enumerate().position(|(i, w)| {
        w == "start"
            || w == "init"
            || w == "start-single-node"
            || w == "sql"
            || (w == "node"
                && matches!(
                    words.get(i + 1).map(String::as_str),
                    Some("decommission" | "status")
                ))
    });
    let Some(sub_at) = sub_at else {
        return Invocation::Other;
    };
    let preceded_by_binary =
        sub_at == 0 || words[sub_at - 1].rsplit('/').next() == Some("cockroach");
    if !preceded_by_binary {
        return Invocation::Other;
    }
    let node_sub = (words[sub_at] == "node").then(|| words[sub_at + 1].clone());
    let mut args = parse_flags(&words[sub_at + 1 + usize::from(node_sub.is_some())..]);
    if args.certs_dir.is_none() {
        args.certs_dir = env_certs_dir;
    }
    match words[sub_at].as_str() {
        "init" => Invocation::Init(args),
        "node" if node_sub.as_deref() == Some("status") => Invocation::NodeStatus(args),
        "node" => Invocation::Decommission(args),
        "sql" => Invocation::Sql(args),
        _ => Invocation::Start(args),
    }
}

fn parse_flags(words: &[String]) -> CockroachArgs {
    let mut args = CockroachArgs::default();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "&&" || w == ";" || w == "|" {
            break;
        }
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (w.clone(), None),
        };
        let takes_value = matches!(
            flag.as_str(),
            "--certs-dir"
                | "--join"
                | "-j"
                | "--host"
                | "--advertise-host"
                | "--advertise-addr"
                | "--locality"
                | "--format"
                | "-e"
                | "--execute"
                | "-f"
                | "--file"
        );
        let value = if takes_value && inline.is_none() {
            i += 1;
            words.get(i).cloned()
        } else {
            inline
        };
        match flag.as_str() {
            "--certs-dir" => args.certs_dir = value,
            "--insecure" => args.insecure = value.as_deref() != Some("false"),
            "--join" | "-j" => args.join.extend(
                value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            "--host" => args.host = value,
            "--advertise-host" | "--advertise-addr" => args.advertise_host = value,
            "--locality" => args.locality = value,
            "--self" => args.self_ = true,
            "--format" => args.format = value,
            "--all" => args.all = true,
            "--ranges" => args.show_ranges = true,
            "--stats" => args.show_stats = true,
            "--decommission" => args.show_decommission = true,
            "-e" | "--execute" => args.execute.extend(value),
            "-f" | "--file" => args.file = value,
            positional if !positional.starts_with('-') => {
                args.positional.push(positional.to_string())
            }
            _ => {}
        }
        i += 1;
    }
    args
}

/// Splits a shell string into words, honouring single and double quotes and backslash-newline continuations.
/// Enough for the command lines found in manifests; not a shell.
pub fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                } else if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Splits `host[:port]` and drops the port.
pub fn host_only(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_multiregion_statefulset_command() {
        let c = json!({
            "image": "cockroachdb/cockroach:v25.2.0",
            "command": ["/bin/bash", "-ecx",
                "exec /cockroach/cockroach start --logtostderr --certs-dir /cockroach/cockroach-certs \
                 --advertise-host $(hostname -f) --http-addr 0.0.0.0 \
                 --join cockroachdb-0.cockroachdb.us-east1-b,cockroachdb-1.cockroachdb.us-east1-b \
                 --locality=region=us-east1,zone=us-east1-b --cache 25% --max-sql-memory 25%"]
        });
        let Invocation::Start(args) = invocation(&c) else {
            panic!("not a start")
        };
        assert_eq!(
            args.certs_dir.as_deref(),
            Some("/cockroach/cockroach-certs")
        );
        assert_eq!(
            args.join,
            vec![
                "cockroachdb-0.cockroachdb.us-east1-b",
                "cockroachdb-1.cockroachdb.us-east1-b"
            ]
        );
        assert_eq!(args.advertise_host.as_deref(), Some("$(hostname"));
        assert_eq!(
            args.locality.as_deref(),
            Some("region=us-east1,zone=us-east1-b")
        );
    }

    #[test]
    fn reads_init_from_args_with_entrypoint_image() {
        let c = json!({"image": "cockroachdb/cockroach:v25.2.0",
                       "args": ["init", "--certs-dir=/cockroach-certs", "--host=cockroachdb-0.cockroachdb:26257"]});
        let Invocation::Init(args) = invocation(&c) else {
            panic!("not init")
        };
        assert_eq!(
            args.host.as_deref(),
            Some("cockroachdb-0.cockroachdb:26257")
        );
        assert_eq!(
            host_only(args.host.as_deref().unwrap()),
            "cockroachdb-0.cockroachdb"
        );
    }

    #[test]
    fn reads_node_decommission() {
        let c = json!({"image": "cockroachdb/cockroach:v25.2.0",
                       "command": ["/cockroach/cockroach", "node", "decommission", "4", "5", "--certs-dir=/c", "--host", "cockroachdb-public"]});
        let Invocation::Decommission(args) = invocation(&c) else {
            panic!("not decommission")
        };
        assert_eq!(args.positional, vec!["4", "5"]);
        assert_eq!(args.host.as_deref(), Some("cockroachdb-public"));
    }

    #[test]
    fn reads_sql_statements_given_as_exec_form_words() {
        let c = json!({"image": "cockroachdb/cockroach:v24.1.0",
                       "command": ["/cockroach/cockroach", "sql", "--certs-dir=/c", "--host=cockroachdb-public",
                                   "-e", "SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';"]});
        let Invocation::Sql(args) = invocation(&c) else {
            panic!("not sql")
        };
        assert_eq!(
            args.execute,
            vec!["SET CLUSTER SETTING cluster.preserve_downgrade_option = '24.1';"]
        );
        assert_eq!(args.host.as_deref(), Some("cockroachdb-public"));
        let c = json!({"image": "cockroachdb/cockroach:v24.1.0",
                       "command": ["/bin/sh", "-c", "cockroach sql --insecure --execute \"SHOW CLUSTER SETTING version\""]});
        let Invocation::Sql(args) = invocation(&c) else {
            panic!("not sql")
        };
        assert_eq!(args.execute, vec!["SHOW CLUSTER SETTING version"]);
    }

    #[test]
    fn reads_node_status_with_its_column_flags() {
        let c = json!({"image": "cockroachdb/cockroach:v25.2.0",
                       "command": ["/cockroach/cockroach", "node", "status", "--all", "--decommission", "--ranges",
                                   "--format=csv", "--certs-dir=/c", "--host", "cockroachdb-public"]});
        let Invocation::NodeStatus(args) = invocation(&c) else {
            panic!("not node status")
        };
        assert!(args.all && args.show_ranges && args.show_decommission && !args.show_stats);
        assert_eq!(args.format.as_deref(), Some("csv"));
    }

    #[test]
    fn a_shell_script_of_commands_joined_by_and_runs_each_in_order() {
        let c = json!({"image": "cockroachdb/cockroach:v24.1.0",
                       "command": ["/bin/bash", "-ec",
                                   "/cockroach/cockroach sql --certs-dir=/c --format=csv -e \"SELECT 'a'\" -e \"SELECT 2\" && /cockroach/cockroach node status --all --format=csv --certs-dir=/c"]});
        let steps = invocations(&c);
        assert_eq!(steps.len(), 2);
        let Invocation::Sql(sql) = &steps[0] else {
            panic!("not sql: {steps:?}")
        };
        assert_eq!(sql.execute, vec!["SELECT 'a'", "SELECT 2"]);
        assert_eq!(sql.format.as_deref(), Some("csv"));
        assert!(matches!(&steps[1], Invocation::NodeStatus(a) if a.all));
        assert_eq!(invocation(&c), steps[0]);
        let c = json!({"image": "cockroachdb/cockroach:v24.1.0",
                       "command": ["/bin/sh", "-c", "sleep 1 && cockroach init --insecure"]});
        assert!(matches!(invocation(&c), Invocation::Init(_)));
    }

    #[test]
    fn other_images_are_not_cockroach() {
        let c = json!({"image": "busybox", "command": ["cockroach", "start"]});
        assert_eq!(invocation(&c), Invocation::Other);
        let c = json!({"image": "cockroachdb/cockroach", "command": ["sleep", "3600"]});
        assert_eq!(invocation(&c), Invocation::Other);
    }

    #[test]
    fn env_certs_dir_is_a_fallback() {
        let c = json!({"image": "cockroachdb/cockroach", "args": ["start", "--join=a,b"],
                       "env": [{"name": "COCKROACH_CERTS_DIR", "value": "/certs"}]});
        let Invocation::Start(args) = invocation(&c) else {
            panic!()
        };
        assert_eq!(args.certs_dir.as_deref(), Some("/certs"));
    }

    #[test]
    fn shell_words_handle_quotes_and_continuations() {
        assert_eq!(
            shell_words("a 'b c' \"d\"\\\n e"),
            vec!["a", "b c", "d", "e"]
        );
    }
}
