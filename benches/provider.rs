//! Provider benchmark: start-to-handshake time, GetSchema latency, peak memory, and the wall
//! time of `terraform plan` with one crdb resource next to Terraform's own floor (a
//! configuration with no provider at all). Prints numbers and ratios; asserts nothing about speed.
//!
//! Run with `cargo bench --bench provider`.
#[path = "../tests/acceptance/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use terraform_provider_crdb::proto::plugin::grpc_controller_client::GrpcControllerClient;
use terraform_provider_crdb::proto::plugin::Empty;
use terraform_provider_crdb::proto::tfplugin5::get_provider_schema;
use terraform_provider_crdb::proto::tfplugin5::provider_client::ProviderClient;
use tonic::transport::{Endpoint, Uri};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const STARTS: usize = 20;
const SCHEMA_CALLS: usize = 500;
const PLANS: usize = 5;

fn host_client_cert() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

struct Started {
    child: std::process::Child,
    handshake: String,
    elapsed: Duration,
}

fn start_provider(client_cert: Option<&str>) -> Started {
    let mut command = Command::new(harness::provider_binary());
    command
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(cert) = client_cert {
        command.env("PLUGIN_CLIENT_CERT", cert);
    }
    let began = Instant::now();
    let mut child = command.spawn().expect("provider starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Started {
        child,
        handshake: line.trim().to_string(),
        elapsed: began.elapsed(),
    }
}

fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    (
        ms(samples[samples.len() / 2]),
        ms(p99),
        ms(samples[samples.len() - 1]),
    )
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn schema_latency() -> (Vec<Duration>, Option<u64>, usize) {
    // Plaintext (no PLUGIN_CLIENT_CERT): the per-call cost after the TLS handshake is the same
    // gRPC path, and the benchmark needs no host certificate.
    let mut started = start_provider(None);
    let socket = started
        .handshake
        .split('|')
        .nth(3)
        .expect("socket path")
        .to_string();
    let channel = Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .expect("connects");
    let mut client = ProviderClient::new(channel.clone());
    let mut samples = Vec::with_capacity(SCHEMA_CALLS);
    let mut bytes = 0;
    for _ in 0..SCHEMA_CALLS {
        let began = Instant::now();
        let response = client
            .get_schema(get_provider_schema::Request {})
            .await
            .expect("GetSchema");
        samples.push(began.elapsed());
        bytes = prost::Message::encoded_len(response.get_ref());
    }
    let peak = peak_rss_kib(started.child.id());
    let _ = GrpcControllerClient::new(channel).shutdown(Empty {}).await;
    let _ = started.child.wait();
    (samples, peak, bytes)
}

fn median_plan_seconds(config: &str) -> f64 {
    let ws = harness::Workspace::new(config);
    // Terraform's own config loading warms its caches on the first run; it is not counted.
    ws.terraform(&["plan", "-input=false", "-no-color"])
        .ok("plan");
    let mut samples: Vec<f64> = (0..PLANS)
        .map(|_| {
            let began = Instant::now();
            ws.terraform(&["plan", "-input=false", "-no-color"])
                .ok("plan");
            began.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let client_cert = host_client_cert();
    let starts: Vec<Duration> = (0..STARTS)
        .map(|_| {
            let mut started = start_provider(Some(&client_cert));
            let _ = started.child.kill();
            let _ = started.child.wait();
            started.elapsed
        })
        .collect();
    let (median, p99, max) = summary(starts);
    println!("start-to-handshake (AutoMTLS, {STARTS} starts): median {median:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (samples, peak, bytes) = runtime.block_on(schema_latency());
    let (median, p99, max) = summary(samples);
    println!("GetSchema ({SCHEMA_CALLS} calls, {bytes} bytes each): median {median:.3} ms, p99 {p99:.3} ms, max {max:.3} ms");
    match peak {
        Some(kib) => println!(
            "peak memory (VmHWM) after {SCHEMA_CALLS} GetSchema calls: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak memory: /proc not readable"),
    }

    let floor = median_plan_seconds("output \"floor\" {\n  value = 1\n}\n");
    let one_resource = median_plan_seconds(
        "resource \"crdb_multiregion_cluster\" \"main\" {\n  name  = \"bench\"\n  image = \"cockroachdb/cockroach:v24.1.0\"\n  zones = [\"a\", \"b\", \"c\"]\n}\n",
    );
    println!(
        "terraform plan, no provider (Terraform's floor): median {:.0} ms over {PLANS} runs",
        floor * 1000.0
    );
    println!(
        "terraform plan, one crdb_multiregion_cluster: median {:.0} ms over {PLANS} runs",
        one_resource * 1000.0
    );
    println!("ratio one-resource / floor: {:.2}", one_resource / floor);
}
