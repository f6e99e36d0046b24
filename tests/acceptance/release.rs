//! The release as users install it: `scripts/release.sh` lays out a signed release and both mirror layouts, and
//! the terraform client of the matrix installs the provider from each with no `dev_overrides` (`providers lock`,
//! then `init`), then applies through it. The binary packed is this build's debug one, which is cheaper than a
//! release build and installs the same way.
use crate::harness::{provider_binary, Run, Workspace};
use crate::regions::Clusters;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const NAME: &str = "terraform-provider-crdb";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A release laid out for one test, signed with a throwaway key; dropping it stops the key's gpg-agent and
/// removes everything (each test lays out its own: a static one would never be dropped).
struct Release {
    _dir: tempfile::TempDir,
    out: PathBuf,
    gnupg_home: PathBuf,
}

fn gnupg_installed() -> bool {
    Command::new("gpg")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// gnupg from Debian, as `scripts/setup.sh` installs it, for a test run on a machine setup has not seen.
fn ensure_gnupg() {
    if gnupg_installed() {
        return;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "gnupg"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        assert!(
            install(),
            "gnupg is missing and apt-get could not install it"
        );
    }
}

fn gpg(home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("gpg")
        .arg("--batch")
        .args(args)
        .env("GNUPGHOME", home)
        .output()
        .expect("gpg runs");
    assert!(
        out.status.success(),
        "gpg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn release_script(gnupg_home: &Path, args: &[&str]) -> Run {
    Run::from(
        Command::new(repo_root().join("scripts/release.sh"))
            .args(args)
            .env("GNUPGHOME", gnupg_home)
            .current_dir(repo_root())
            .output()
            .expect("release.sh runs"),
    )
}

/// gpg starts an agent per GNUPGHOME that outlives it; this stops it.
fn stop_gpg_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", home)
        .status();
}

impl Drop for Release {
    fn drop(&mut self) {
        stop_gpg_agent(&self.gnupg_home);
    }
}

fn release() -> Release {
    ensure_gnupg();
    let dir = tempfile::tempdir().unwrap();
    let gnupg_home = dir.path().join("gnupg");
    std::fs::create_dir(&gnupg_home).unwrap();
    std::fs::set_permissions(
        &gnupg_home,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // Made before gpg runs, so that a failing step below still stops the agent when it unwinds.
    let release = Release {
        out: dir.path().join("dist"),
        _dir: dir,
        gnupg_home,
    };
    let gnupg_home = &release.gnupg_home;
    gpg(
        gnupg_home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "crdb release test <release-test@invalid>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let listed = gpg(gnupg_home, &["--with-colons", "--list-secret-keys"]);
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find_map(|line| {
            line.strip_prefix("fpr:")
                .map(|rest| rest.trim_matches(':').to_string())
        })
        .expect("the key just made has a fingerprint");
    let binary = provider_binary();
    release_script(
        gnupg_home,
        &[
            "--out",
            release.out.to_str().unwrap(),
            "--key",
            &fingerprint,
            "--prebuilt",
            binary.to_str().unwrap(),
            VERSION,
        ],
    )
    .ok("release.sh");
    release
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn zip_name() -> String {
    format!("{NAME}_{VERSION}_linux_amd64.zip")
}

/// The hashes the network mirror announces for linux_amd64 (`h1:` first), as Terraform reads them.
fn mirror_hashes(release: &Release) -> Vec<String> {
    let version_json = release
        .out
        .join("network-mirror/registry.terraform.io/crdb/crdb")
        .join(format!("{VERSION}.json"));
    let parsed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(version_json).unwrap()).unwrap();
    let archive = &parsed["archives"]["linux_amd64"];
    assert_eq!(archive["url"], zip_name().as_str());
    archive["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn release_is_signed_checksummed_and_refuses_a_version_cargo_does_not_have() {
    let release = &release();
    let dir = release.out.join(VERSION);
    let sums_name = format!("{NAME}_{VERSION}_SHA256SUMS");
    let sums = std::fs::read_to_string(dir.join(&sums_name)).unwrap();
    let manifest_name = format!("{NAME}_{VERSION}_manifest.json");
    let mut listed: Vec<&str> = Vec::new();
    for line in sums.lines() {
        let (sum, file) = line.split_once("  ").expect("'<sha256>  <file>' lines");
        assert_eq!(
            sum,
            sha256_hex(&std::fs::read(dir.join(file)).unwrap()),
            "SHA256SUMS is wrong for {file}"
        );
        listed.push(file);
    }
    assert_eq!(listed, [zip_name().as_str(), manifest_name.as_str()]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(&manifest_name)).unwrap()).unwrap();
    assert_eq!(
        manifest["metadata"]["protocol_versions"],
        serde_json::json!(["5.0"])
    );

    // The detached signature verifies against the exported public key alone, as a registry checks it.
    let verifier = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        verifier.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let public_key = dir.join("signing-key.asc");
    gpg(verifier.path(), &["--import", public_key.to_str().unwrap()]);
    let sig = dir.join(format!("{sums_name}.sig"));
    let sums_path = dir.join(&sums_name);
    gpg(
        verifier.path(),
        &[
            "--verify",
            sig.to_str().unwrap(),
            sums_path.to_str().unwrap(),
        ],
    );
    let tampered = verifier.path().join(&sums_name);
    std::fs::write(&tampered, sums.replacen('0', "1", 1)).unwrap();
    let refused = Command::new("gpg")
        .args(["--batch", "--verify"])
        .arg(&sig)
        .arg(&tampered)
        .env("GNUPGHOME", verifier.path())
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a changed SHA256SUMS still verified"
    );

    // The zh: hash the mirror announces is the archive's sha256, as SHA256SUMS says.
    let hashes = mirror_hashes(release);
    assert!(hashes[0].starts_with("h1:"), "{hashes:?}");
    assert!(
        sums.contains(hashes[1].strip_prefix("zh:").unwrap()),
        "{hashes:?}"
    );

    let refused = release_script(
        &release.gnupg_home,
        &[
            "--out",
            release.out.to_str().unwrap(),
            "--key",
            "x",
            "99.0.0",
        ],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .said()
            .contains(&format!("Cargo.toml says version {VERSION}, not 99.0.0")),
        "{}",
        refused.said()
    );
    assert!(!release.out.join("99.0.0").exists());
}

/// A workspace whose CLI configuration installs providers only from `installation` (no dev_overrides, no
/// direct access), running `config`.
fn installing_workspace(installation: &str, config: &str) -> Workspace {
    let ws = Workspace::new("");
    std::fs::write(
        ws.path().join("cli.tfrc"),
        format!("provider_installation {{\n  {installation}\n}}\n"),
    )
    .unwrap();
    std::fs::write(ws.path().join("main.tf"), config).unwrap();
    ws
}

/// `providers lock` from `mirror_flag`, then `init`: the lock file records the mirror's `h1:` hash, Terraform
/// checked the package against it, and what it installed is the binary released.
fn lock_and_init(ws: &Workspace, mirror_flag: &str, hashes: &[String]) -> String {
    ws.terraform(&[
        "providers",
        "lock",
        "-no-color",
        "-platform=linux_amd64",
        mirror_flag,
    ])
    .ok("providers lock");
    let lock = std::fs::read_to_string(ws.path().join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains(&format!("version     = \"{VERSION}\"")),
        "lock file:\n{lock}"
    );
    assert!(
        lock.contains(&hashes[0]),
        "the lock file lacks {}:\n{lock}",
        hashes[0]
    );
    let init = ws
        .terraform(&["init", "-input=false", "-no-color"])
        .ok("init");
    let said = init.said();
    assert!(
        said.contains(&format!("Installed crdb/crdb v{VERSION}")),
        "{said}"
    );
    assert!(
        !said.contains("override"),
        "installed through an override: {said}"
    );
    let installed = ["registry.terraform.io", "registry.opentofu.org"]
        .iter()
        .map(|host| {
            ws.path()
                .join(".terraform/providers")
                .join(host)
                .join(format!("crdb/crdb/{VERSION}/linux_amd64/{NAME}_v{VERSION}"))
        })
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("init installed no {NAME}_v{VERSION}: {said}"));
    assert!(
        std::fs::read(&installed).unwrap() == std::fs::read(provider_binary()).unwrap(),
        "the installed provider is not the binary released"
    );
    lock
}

/// An example as users copy it: it pins the provider's version (`~> 0.1`), which the release must satisfy.
fn example(name: &str) -> String {
    let config = std::fs::read_to_string(
        repo_root()
            .join("examples/terraform")
            .join(name)
            .join("main.tf"),
    )
    .unwrap();
    assert!(
        config.contains("crdb = { source = \"crdb/crdb\", version = "),
        "examples/terraform/{name} does not pin the provider's version"
    );
    config
}

#[test]
fn release_installs_from_a_filesystem_mirror() {
    let release = &release();
    let mirror = release.out.join("filesystem-mirror");
    let ws = installing_workspace(
        &format!(
            "filesystem_mirror {{\n    path = \"{}\"\n  }}",
            mirror.display()
        ),
        &example("cluster-only"),
    );
    lock_and_init(
        &ws,
        &format!("-fs-mirror={}", mirror.display()),
        &mirror_hashes(release),
    );
    ws.apply();
    ws.assert_plan_empty("apply through the installed provider");
    ws.destroy();
}

/// The network mirror protocol's static files over HTTPS on loopback, under a throwaway CA; the paths asked for.
struct HttpsMirror {
    url: String,
    ca_pem: String,
    requested: Arc<Mutex<Vec<String>>>,
}

fn serve_network_mirror(runtime: &tokio::runtime::Runtime, root: PathBuf) -> HttpsMirror {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = kube_sandbox::tls::generate("network-mirror").expect("a throwaway CA");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!(
        "https://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config);
    let requested = Arc::new(Mutex::new(Vec::new()));
    let log = requested.clone();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let root = root.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                log.lock().unwrap().push(path.clone());
                let file = root.join(path.trim_start_matches('/'));
                let response = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => {
                        // Terraform refuses a mirror's answer without a media type.
                        let media_type = if path.ends_with(".json") {
                            "application/json"
                        } else {
                            "application/zip"
                        };
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend(body);
                        r
                    }
                    _ => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = tls.write_all(&response).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    HttpsMirror {
        url,
        ca_pem: pki.ca_pem,
        requested,
    }
}

#[test]
fn release_installs_from_a_network_mirror_over_https_and_applies_the_sandbox_example() {
    let release = &release();
    let clusters = Clusters::start(&["kube-dns", "coredns", "kube-dns"]);
    let mirror = serve_network_mirror(&clusters.runtime, release.out.join("network-mirror"));
    let ws = installing_workspace(
        &format!("network_mirror {{\n    url = \"{}\"\n  }}", mirror.url),
        &example("sandbox"),
    );
    let ca_file = ws.path().join("mirror-ca.pem");
    std::fs::write(&ca_file, &mirror.ca_pem).unwrap();
    // Go reads its trusted roots from SSL_CERT_FILE alone when it is set: the mirror is trusted through its CA.
    let ws = ws.with_env("SSL_CERT_FILE", ca_file.to_str().unwrap());
    let hashes = mirror_hashes(release);
    lock_and_init(&ws, &format!("-net-mirror={}", mirror.url), &hashes);
    let requested = mirror.requested.lock().unwrap().clone();
    assert!(
        requested
            .iter()
            .any(|p| p.ends_with("/crdb/crdb/index.json"))
            && requested
                .iter()
                .any(|p| p.ends_with(&format!("/crdb/crdb/{VERSION}.json")))
            && requested.iter().any(|p| p.ends_with(&zip_name())),
        "the client did not go through the network mirror: {requested:?}"
    );

    let kubeconfig = ws.path().join("sandbox.kubeconfig");
    clusters.sandbox.write_kubeconfig(&kubeconfig).unwrap();
    std::fs::write(
        ws.path().join("terraform.tfvars"),
        format!(
            "kubeconfig          = \"{}\"\ndeletion_protection = false\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    ws.apply();
    ws.assert_plan_empty("apply through the installed provider");
    ws.destroy();
}
