//! Real Kubernetes control planes on loopback, for tests that check the provider against kube-apiserver itself.
//!
//! Each control plane is an etcd, a kube-apiserver and a kube-controller-manager, built by
//! `scripts/control-planes.sh` at the version `scripts/control-planes/go.mod` pins. Each has its own CA and
//! serving certificate for 127.0.0.1, a static token file, Node and RBAC authorization and the default admission plugins;
//! one kubeconfig holds a context per control plane. The processes are killed when [`ControlPlanes`] is dropped,
//! and by the kernel if the thread that started them ends first (a test killed mid-way leaves nothing running).
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sandbox::kubeconfig;
use rcgen::KeyPair;
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a control plane may take to answer `/readyz`: several seconds on an idle machine, far more on two
/// cores busy with builds.
const READY_WITHIN: Duration = Duration::from_secs(180);

/// The controllers a zone's objects need: pods for StatefulSets, Jobs and ReplicaSets, the default
/// ServiceAccount of a new namespace, and deletion of a namespace, of what its objects own and of its claims
/// (whose protection finalizer the admission plugins add).
const CONTROLLERS: &str = "statefulset-controller,job-controller,replicaset-controller,\
garbage-collector-controller,namespace-controller,serviceaccount-controller,\
persistentvolumeclaim-protection-controller";

/// With a sandbox attached (`kube_sandbox::attach`): every controller of kube-controller-manager a cluster's
/// objects meet, the sandbox running only what nodes and the cloud do.
const CONTROLLERS_ATTACHED: &str = "statefulset-controller,job-controller,replicaset-controller,\
deployment-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,\
persistentvolumeclaim-protection-controller,endpoints-controller,endpointslice-controller,\
disruption-controller,ttl-after-finished-controller,pod-garbage-collector-controller,\
root-ca-certificate-publisher-controller";

/// The version `scripts/control-planes/go.mod` pins: the directory its build lands in is named after it.
fn kubernetes_version() -> &'static str {
    include_str!("../../scripts/control-planes/go.mod")
        .lines()
        .find_map(|line| {
            let line = line.strip_prefix("require").unwrap_or(line).trim();
            line.strip_prefix("k8s.io/kubernetes ")
        })
        .expect("scripts/control-planes/go.mod requires k8s.io/kubernetes")
}

/// Where `scripts/control-planes.sh` puts the binaries (`CRDB_CONTROL_PLANES_BIN` overrides it).
pub fn binaries_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRDB_CONTROL_PLANES_BIN") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("CRDB_TOOLS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(|d| PathBuf::from(d).join("terraform-provider-crdb"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/terraform-provider-crdb")
        });
    cache.join("control-planes").join(kubernetes_version())
}

fn binary(name: &str) -> PathBuf {
    let path = binaries_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/control-planes.sh to build the real control plane ({name} of Kubernetes {})",
        path.display(),
        kubernetes_version()
    );
    path
}

/// One control plane's address and credentials, as a kubeconfig context names them.
pub struct ControlPlane {
    pub name: String,
    pub url: String,
    pub ca_pem: String,
    /// A `system:masters` token, as a cluster admin's.
    pub token: String,
    /// Started for attaching: the loopback port its kube-apiserver's `HTTPS_PROXY` names, where the sandbox
    /// serves the pods (`kube_sandbox::attach`).
    pub pod_proxy_port: Option<u16>,
    dir: PathBuf,
    /// Started in this order and stopped in the reverse one.
    processes: Vec<(&'static str, Child)>,
    /// kube-controller-manager's arguments, for once its API server is ready: it gives up and exits when the API
    /// server is not healthy within ten seconds of its start, which three control planes starting at once on two
    /// busy cores can take.
    manager_args: Vec<String>,
}

impl ControlPlane {
    /// The process ids of its etcd, kube-apiserver and kube-controller-manager.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.processes
            .iter()
            .map(|(name, child)| (*name, child.id()))
            .collect()
    }

    /// Which of its processes has exited, and how, if any has.
    fn exited(&mut self) -> Option<String> {
        self.processes.iter_mut().find_map(|(name, child)| {
            let status = child.try_wait().ok()??;
            Some(format!("{name} exited ({status})"))
        })
    }

    fn log(&self, process: &str) -> PathBuf {
        self.dir.join(format!("{process}.log"))
    }

    /// The last lines a process wrote, for a failure message.
    fn log_tail(&self, process: &str) -> String {
        let text = fs::read_to_string(self.log(process)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// N control planes and the kubeconfig with a context for each, named as asked.
pub struct ControlPlanes {
    planes: Vec<ControlPlane>,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl ControlPlanes {
    /// Starts one control plane per name and returns once every kube-apiserver answers `/readyz`.
    pub async fn start(names: &[&str]) -> ControlPlanes {
        Self::start_with(names, CONTROLLERS, None).await
    }

    /// Control planes for a sandbox to attach to: kube-controller-manager runs the controllers of a whole cluster
    /// and each kube-apiserver trusts the kubelet endpoints' certificates `kubelet_ca_pem` signs.
    pub async fn start_for_attaching(names: &[&str], kubelet_ca_pem: &str) -> ControlPlanes {
        Self::start_with(names, CONTROLLERS_ATTACHED, Some(kubelet_ca_pem)).await
    }

    async fn start_with(
        names: &[&str],
        controllers: &str,
        kubelet_ca_pem: Option<&str>,
    ) -> ControlPlanes {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut started = ControlPlanes {
            planes: Vec::new(),
            kubeconfig: dir.path().join("kubeconfig"),
            dir,
        };
        for name in names {
            let plane_dir = started.dir.path().join(name);
            started
                .planes
                .push(start_plane(name, &plane_dir, controllers, kubelet_ca_pem));
        }
        started.write_kubeconfig();
        for at in 0..started.planes.len() {
            for attempt in 1..=START_ATTEMPTS {
                let Err(exited) = wait_ready(&mut started.planes[at], &started.kubeconfig).await
                else {
                    break;
                };
                let lost_its_port = exited.contains("address already in use");
                assert!(
                    lost_its_port && attempt < START_ATTEMPTS,
                    "control plane {} stopped before it was ready (attempt {attempt}):\n{exited}",
                    started.planes[at].name
                );
                // Another process took a port between the check and the bind: start it again on others.
                let name = started.planes[at].name.clone();
                eprintln!(
                    "control plane {name}: a port was taken before it bound it; starting it again"
                );
                stop(&mut started.planes[at]);
                let plane_dir = started.dir.path().join(format!("{name}-{}", attempt + 1));
                started.planes[at] = start_plane(&name, &plane_dir, controllers, kubelet_ca_pem);
                started.write_kubeconfig();
            }
            let plane = &mut started.planes[at];
            let manager = spawn(
                "kube-controller-manager",
                "kube-controller-manager",
                &plane.manager_args,
                &[],
                &plane.dir,
            );
            plane.processes.push(manager);
        }
        started
    }

    /// The kubeconfig with a context per control plane, as they are now.
    fn write_kubeconfig(&self) {
        let entries: Vec<kubeconfig::Entry> = self
            .planes
            .iter()
            .map(|plane| kubeconfig::Entry {
                name: &plane.name,
                server: &plane.url,
                ca_pem: &plane.ca_pem,
                token: &plane.token,
            })
            .collect();
        kubeconfig::write(&self.kubeconfig, &kubeconfig::render(&entries))
            .expect("the kubeconfig is written");
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn planes(&self) -> &[ControlPlane] {
        &self.planes
    }

    /// The last lines each process of each control plane wrote, for a failed test to show.
    pub fn log_tails(&self) -> String {
        let mut all = String::new();
        for plane in &self.planes {
            for (process, _) in &plane.processes {
                all.push_str(&format!(
                    "--- {} {process}:\n{}\n",
                    plane.name,
                    plane.log_tail(process)
                ));
            }
        }
        all
    }

    /// A kube-rs client of one control plane, through its kubeconfig context.
    pub async fn kube_client(&self, name: &str) -> kube::Client {
        kube_client(&self.kubeconfig, name).await
    }
}

impl Drop for ControlPlanes {
    fn drop(&mut self) {
        for plane in &mut self.planes {
            stop(plane);
        }
    }
}

/// Kills a control plane's processes, the last started first.
fn stop(plane: &mut ControlPlane) {
    for (_, child) in plane.processes.iter_mut().rev() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

async fn kube_client(kubeconfig: &Path, context: &str) -> kube::Client {
    let document = Kubeconfig::read_from(kubeconfig).expect("the kubeconfig reads back");
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(document, &options)
        .await
        .expect("the kubeconfig's context makes a client configuration");
    kube::Client::try_from(config).expect("a client")
}

/// Waits for the plane's kube-apiserver to answer `/readyz` with ok; Err with the logs' last lines as soon as its
/// etcd or kube-apiserver has exited (it will not become ready then). Not ready within `READY_WITHIN` fails the test.
async fn wait_ready(plane: &mut ControlPlane, kubeconfig: &Path) -> Result<(), String> {
    let client = kube_client(kubeconfig, &plane.name).await;
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < READY_WITHIN {
        let request = http::Request::get("/readyz").body(Vec::new()).unwrap();
        match client.request_text(request).await {
            Ok(text) if text.trim() == "ok" => return Ok(()),
            Ok(text) => last = text,
            Err(error) => last = error.to_string(),
        }
        if let Some(exited) = plane.exited() {
            return Err(format!(
                "{exited}\nkube-apiserver's last lines:\n{}\netcd's last lines:\n{}",
                plane.log_tail("kube-apiserver"),
                plane.log_tail("etcd")
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "control plane {} did not answer /readyz with ok within {READY_WITHIN:?} (last: {last})\n\
         kube-apiserver's last lines:\n{}\netcd's last lines:\n{}",
        plane.name,
        plane.log_tail("kube-apiserver"),
        plane.log_tail("etcd")
    );
}

/// How many times a control plane is started when one of its ports was taken before it bound it.
const START_ATTEMPTS: usize = 3;

/// A port free on loopback now, for a control plane to listen on. Taken below the kernel's ephemeral range
/// (`ip_local_port_range`), from which every outgoing connection's local port and every `bind(0)` come, so that
/// neither takes it before the control plane binds it; another control plane starting at the same moment may
/// still draw it (`START_ATTEMPTS` covers that). Where the range leaves too little below it, any free port.
fn free_port() -> u16 {
    let ephemeral_from = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const LOWEST: u16 = 10000;
    if ephemeral_from >= LOWEST + 1000 {
        loop {
            let port = LOWEST + random_u16() % (ephemeral_from - LOWEST);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on loopback")
        .port()
}

fn random_u16() -> u16 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 2];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random bytes");
    u16::from_le_bytes(bytes)
}

fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The plane's CA (returned as PEM), the kube-apiserver's serving certificate and key, and the key service
/// account tokens are signed with, written to `dir`.
fn write_pki(name: &str, dir: &Path) -> String {
    let pki = kube_sandbox::tls::serving_pki(&format!("control plane {name} CA")).expect("a CA");
    fs::write(dir.join("ca.crt"), &pki.ca_pem).unwrap();
    fs::write(dir.join("apiserver.crt"), &pki.cert_pem).unwrap();
    fs::write(dir.join("apiserver.key"), &pki.key_pem).unwrap();

    // Service account tokens are signed with a key of their own, as every real cluster does.
    let account_key = KeyPair::generate().expect("a service account key");
    fs::write(dir.join("sa.key"), account_key.serialize_pem()).unwrap();
    fs::write(dir.join("sa.pub"), account_key.public_key_pem()).unwrap();
    pki.ca_pem
}

/// Starts `binary` with its output in `dir/<label>.log`, killed by the kernel if the starting thread ends.
fn spawn(
    label: &'static str,
    binary: &str,
    args: &[String],
    env: &[(&str, String)],
    dir: &Path,
) -> (&'static str, Child) {
    let log = fs::File::create(dir.join(format!("{label}.log"))).expect("a log file");
    let mut command = Command::new(self::binary(binary));
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("a log file handle"))
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{binary} does not start: {e}"));
    (label, child)
}

fn start_plane(
    name: &str,
    dir: &Path,
    controllers: &str,
    kubelet_ca_pem: Option<&str>,
) -> ControlPlane {
    fs::create_dir_all(dir).expect("the control plane's directory");
    let ca_pem = write_pki(name, dir);
    let admin_token = random_token();
    let manager_token = random_token();
    // token,user,uid,"groups": the controller manager runs as the cluster's admin, so that no controller lacks
    // a permission the bootstrap roles grant only to per-controller service accounts.
    fs::write(
        dir.join("tokens.csv"),
        format!(
            "{admin_token},admin,admin,\"system:masters\"\n\
             {manager_token},system:kube-controller-manager,kube-controller-manager,\"system:masters\"\n"
        ),
    )
    .unwrap();
    let (etcd_client, etcd_peer, apiserver) = (free_port(), free_port(), free_port());
    let url = format!("https://127.0.0.1:{apiserver}");
    let path = |file: &str| dir.join(file).display().to_string();
    let manager_kubeconfig = dir.join("kube-controller-manager.kubeconfig");
    kubeconfig::write(
        &manager_kubeconfig,
        &kubeconfig::render(&[kubeconfig::Entry {
            name,
            server: &url,
            ca_pem: &ca_pem,
            token: &manager_token,
        }]),
    )
    .expect("the controller manager's kubeconfig");

    let etcd_url = format!("http://127.0.0.1:{etcd_client}");
    let peer_url = format!("http://127.0.0.1:{etcd_peer}");
    let etcd_args = [
        format!("--name={name}"),
        format!("--data-dir={}", path("etcd")),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster={name}={peer_url}"),
        "--log-level=warn".to_string(),
        // The data lives as long as the test: an fsync per write only slows the shared machine down.
        "--unsafe-no-fsync".to_string(),
    ];
    let mut apiserver_args = vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".to_string(),
        "--advertise-address=127.0.0.1".to_string(),
        format!("--secure-port={apiserver}"),
        format!("--cert-dir={}", path("certs")),
        format!("--tls-cert-file={}", path("apiserver.crt")),
        format!("--tls-private-key-file={}", path("apiserver.key")),
        format!("--token-auth-file={}", path("tokens.csv")),
        "--authorization-mode=Node,RBAC".to_string(),
        format!("--service-account-issuer={url}"),
        format!("--service-account-key-file={}", path("sa.pub")),
        format!("--service-account-signing-key-file={}", path("sa.key")),
        "--service-cluster-ip-range=10.96.0.0/16".to_string(),
        // As kubeadm, GKE and EKS set it; the admission plugins are the defaults.
        "--allow-privileged=true".to_string(),
        "--profiling=false".to_string(),
    ];
    let pod_proxy_port = kubelet_ca_pem.map(|_| free_port());
    // Its `pods/proxy` transport honours the environment's proxy (loopback addresses, etcd's and the kubelets',
    // are never proxied): the pods' addresses reach the sandbox through it.
    let apiserver_env: Vec<(&str, String)> = pod_proxy_port
        .map(|port| {
            vec![
                ("HTTPS_PROXY", format!("http://127.0.0.1:{port}")),
                ("NO_PROXY", String::new()),
            ]
        })
        .unwrap_or_default();
    if let Some(pem) = kubelet_ca_pem {
        fs::write(dir.join("kubelet-ca.crt"), pem).unwrap();
        apiserver_args.push(format!(
            "--kubelet-certificate-authority={}",
            path("kubelet-ca.crt")
        ));
        // As kubeadm and GKE set it: a node's host name is no name this machine resolves.
        apiserver_args
            .push("--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".to_string());
    }
    let manager_args = vec![
        format!("--kubeconfig={}", manager_kubeconfig.display()),
        format!("--controllers={controllers}"),
        "--leader-elect=false".to_string(),
        // Nothing reads its metrics or health endpoints: no port to allocate.
        "--secure-port=0".to_string(),
        format!("--service-account-private-key-file={}", path("sa.key")),
        format!("--root-ca-file={}", path("ca.crt")),
    ];
    let processes = vec![
        spawn("etcd", "etcd", &etcd_args, &[], dir),
        spawn(
            "kube-apiserver",
            "kube-apiserver",
            &apiserver_args,
            &apiserver_env,
            dir,
        ),
    ];
    ControlPlane {
        name: name.to_string(),
        url,
        ca_pem,
        token: admin_token,
        pod_proxy_port,
        dir: dir.to_path_buf(),
        processes,
        manager_args,
    }
}

#[cfg(test)]
mod tests {
    /// Outgoing connections and `bind(0)` take their local ports from the ephemeral range: a control plane's port
    /// comes from below it, so that none of them takes it between the check and the bind.
    #[test]
    fn control_plane_ports_come_from_below_the_ephemeral_range() {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let ephemeral_from: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
        assert!(ephemeral_from >= 11000, "this machine's range: {range}");
        for _ in 0..20 {
            let port = super::free_port();
            assert!((10000..ephemeral_from).contains(&port), "{port}");
        }
    }
}
