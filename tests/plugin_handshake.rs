//! The built provider binary, driven the way a go-plugin host (Terraform, OpenTofu) drives it:
//! environment in, one handshake line out, gRPC over a unix socket with mutual TLS, Shutdown.
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::{Child, ChildStdout, Command};
use tokio_stream::StreamExt as _;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Code;

use terraform_provider_crdb::proto::plugin::grpc_controller_client::GrpcControllerClient;
use terraform_provider_crdb::proto::plugin::grpc_stdio_client::GrpcStdioClient;
use terraform_provider_crdb::proto::plugin::Empty;
use terraform_provider_crdb::proto::tfplugin5::provider_client::ProviderClient;
use terraform_provider_crdb::proto::tfplugin5::{
    get_functions, get_metadata, get_provider_schema, validate_resource_type_config,
    ClientCapabilities, DynamicValue,
};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-crdb");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Terraform kills a plugin 2 s after Shutdown; we must be gone well before.
const EXIT_AFTER_SHUTDOWN_LIMIT: Duration = Duration::from_millis(1500);
/// What Terraform 1.x actually sends: a self-signed CA:true P-521 certificate.
const HOST_P521_CERT: &str = include_str!("fixtures/host-p521-cert.pem");
const HOST_P521_KEY: &str = include_str!("fixtures/host-p521-key.pem");

/// A client identity the test plays the host with.
struct HostIdentity {
    cert_pem: String,
    certified_key: Arc<CertifiedKey>,
}

impl HostIdentity {
    /// Self-signed with the CA flag, like go-plugin's, but on P-256 so ring can sign with it.
    fn generated() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key = rustls::crypto::ring::sign::any_supported_type(&key_der).unwrap();
        Self {
            cert_pem: cert.pem(),
            certified_key: Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing_key)),
        }
    }

    /// The P-521 identity Terraform's go-plugin client presents, signed with RustCrypto.
    fn terraform_like() -> Self {
        use p521::pkcs8::DecodePrivateKey as _;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(HOST_P521_KEY.as_bytes()).unwrap();
        let secret = p521::SecretKey::from_pkcs8_der(key_der.secret_pkcs8_der()).unwrap();
        let signing = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes()).unwrap();
        let cert = CertificateDer::from_pem_slice(HOST_P521_CERT.as_bytes()).unwrap();
        Self {
            cert_pem: HOST_P521_CERT.to_owned(),
            certified_key: Arc::new(CertifiedKey::new(
                vec![cert],
                Arc::new(p521_signing::P521Key(signing)),
            )),
        }
    }
}

/// rustls signing with a P-521 key, which ring cannot do.
mod p521_signing {
    use p521::ecdsa::signature::Signer as _;
    use rustls::sign::{Signer, SigningKey};
    use rustls::{SignatureAlgorithm, SignatureScheme};

    pub struct P521Key(pub p521::ecdsa::SigningKey);

    impl std::fmt::Debug for P521Key {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("P521Key")
        }
    }

    impl SigningKey for P521Key {
        fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
            offered
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
                .then(|| Box::new(P521Key(self.0.clone())) as Box<dyn Signer>)
        }

        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::ECDSA
        }
    }

    impl Signer for P521Key {
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
            let signature: p521::ecdsa::Signature = self.0.sign(message);
            Ok(signature.to_der().as_bytes().to_vec())
        }

        fn scheme(&self) -> SignatureScheme {
            SignatureScheme::ECDSA_NISTP521_SHA512
        }
    }
}

/// Trusts exactly the certificate published in the handshake line, as go-plugin does.
#[derive(Debug)]
struct PinnedServer {
    der: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the published server cert".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn client_tls(server_cert_der: &[u8], identity: &HostIdentity) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            der: CertificateDer::from(server_cert_der.to_vec()),
            provider,
        }))
        .with_client_cert_resolver(Arc::new(FixedClientCert(identity.certified_key.clone())));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A gRPC channel to the plugin's socket, through TLS when `tls` is given.
async fn dial(
    address: &Address,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Channel, tonic::transport::Error> {
    let address = address.clone();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let address = address.clone();
            let tls = tls.clone();
            async move {
                let stream: Box<dyn Io> = match &address {
                    Address::Unix(path) => Box::new(UnixStream::connect(path).await?),
                    Address::Tcp(addr) => Box::new(TcpStream::connect(addr).await?),
                };
                let io: Box<dyn Io> = match tls {
                    None => stream,
                    Some(config) => Box::new(
                        tokio_rustls::TlsConnector::from(config)
                            .connect(ServerName::try_from("localhost").unwrap(), stream)
                            .await?,
                    ),
                };
                Ok::<_, io::Error>(TokioIo::new(io))
            }
        }))
        .await
}

#[derive(Clone, Debug)]
enum Address {
    Unix(PathBuf),
    Tcp(String),
}

/// The handshake line's fields, parsed strictly.
struct Handshake {
    address: Address,
    server_cert_der: Option<Vec<u8>>,
}

impl Handshake {
    fn socket(&self) -> &Path {
        match &self.address {
            Address::Unix(path) => path,
            Address::Tcp(addr) => panic!("expected a unix socket, got tcp {addr}"),
        }
    }
}

fn parse_handshake(line: &str) -> Handshake {
    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line {line:?}");
    assert_eq!(&fields[..2], ["1", "5"], "handshake line {line:?}");
    assert_eq!(fields[4], "grpc");
    let address = match fields[2] {
        "unix" => Address::Unix(PathBuf::from(fields[3])),
        "tcp" => Address::Tcp(fields[3].to_owned()),
        other => panic!("unknown network {other:?} in {line:?}"),
    };
    let server_cert_der = (!fields[5].is_empty()).then(|| {
        assert!(!fields[5].contains('='), "cert must be unpadded: {line:?}");
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(fields[5])
            .expect("cert field is standard base64")
    });
    Handshake {
        address,
        server_cert_der,
    }
}

/// A running plugin process with the host's side of its pipes.
struct Plugin {
    child: Child,
    stdout: BufReader<ChildStdout>,
    handshake: Handshake,
    started_in: Duration,
    _socket_parent: tempfile::TempDir,
}

impl Plugin {
    async fn start(client_cert_pem: Option<&str>) -> Self {
        let socket_parent = tempfile::tempdir().unwrap();
        let socket_dir = socket_parent.path().to_owned();
        let plugin = Self::start_in(client_cert_pem, &socket_dir, socket_parent).await;
        assert!(plugin.handshake.socket().starts_with(&socket_dir));
        plugin
    }

    /// Starts the plugin with `socket_dir` as its `PLUGIN_UNIX_SOCKET_DIR`; `socket_parent`
    /// lives as long as the plugin.
    async fn start_in(
        client_cert_pem: Option<&str>,
        socket_dir: &Path,
        socket_parent: tempfile::TempDir,
    ) -> Self {
        let mut command = host_command();
        command
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
            .env("PLUGIN_UNIX_SOCKET_DIR", socket_dir)
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000");
        if let Some(pem) = client_cert_pem {
            command.env("PLUGIN_CLIENT_CERT", pem);
        }
        let started = Instant::now();
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
            .await
            .expect("no handshake line within 10 s")
            .unwrap();
        let started_in = started.elapsed();
        assert!(
            line.ends_with('\n'),
            "handshake line must end the line: {line:?}"
        );
        let handshake = parse_handshake(line.trim_end_matches('\n'));
        Self {
            child,
            stdout,
            handshake,
            started_in,
            _socket_parent: socket_parent,
        }
    }

    async fn channel(&self, identity: &HostIdentity) -> Channel {
        let der = self
            .handshake
            .server_cert_der
            .as_ref()
            .expect("AutoMTLS cert");
        dial(&self.handshake.address, Some(client_tls(der, identity)))
            .await
            .expect("mTLS connection")
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    async fn wait(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("plugin still running after {limit:?}"))
            .unwrap()
    }

    /// Everything written to stdout after the handshake line; the process must have exited.
    async fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).await.unwrap();
        rest
    }
}

fn host_command() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("TF_LOG_PROVIDER_CRDB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(reply.into_inner().status)
}

/// Through the shell's `kill` builtin, so the test needs no signal crate and no procps.
fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn refuses_to_run_without_the_magic_cookie() {
    let output = host_command().output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout must stay empty");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("is a Terraform/OpenTofu plugin"),
        "{stderr}"
    );
    assert!(stderr.contains("terraform init"), "{stderr}");

    let wrong = host_command()
        .env("TF_PLUGIN_MAGIC_COOKIE", "nope")
        .output()
        .await
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(wrong.stdout.is_empty());
}

#[tokio::test]
async fn refuses_a_host_without_protocol_5() {
    let output = host_command()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("protocol 5"), "{stderr}");
}

/// The whole life of a plugin under Terraform, with Terraform's own kind of client certificate.
#[tokio::test]
async fn serves_a_terraform_like_host_over_mtls_and_exits_on_shutdown() {
    let host = HostIdentity::terraform_like();
    let mut plugin = Plugin::start(Some(&host.cert_pem)).await;
    eprintln!("handshake line after {:?}", plugin.started_in);
    let channel = plugin.channel(&host).await;

    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );

    let schema = ProviderClient::new(channel.clone())
        .get_schema(get_provider_schema::Request {})
        .await
        .expect("GetSchema")
        .into_inner();
    assert!(schema.provider.is_some());

    // The RPCs of protocol 5.4 to 5.8 are served, not left UNIMPLEMENTED.
    let metadata = ProviderClient::new(channel.clone())
        .get_metadata(get_metadata::Request {})
        .await
        .expect("GetMetadata")
        .into_inner();
    assert_eq!(metadata.resources.len(), schema.resource_schemas.len());
    assert_eq!(metadata.server_capabilities, schema.server_capabilities);
    let functions = ProviderClient::new(channel.clone())
        .get_functions(get_functions::Request {})
        .await
        .expect("GetFunctions")
        .into_inner();
    assert!(functions.functions.is_empty());

    // Terraform ships whole configurations and states: 8 MiB must not hit tonic's 4 MiB default.
    let large = ProviderClient::new(channel.clone())
        .validate_resource_type_config(validate_resource_type_config::Request {
            type_name: "crdb_region".into(),
            config: Some(DynamicValue {
                msgpack: vec![0xc0; 8 * 1024 * 1024],
                json: Vec::new(),
            }),
            client_capabilities: Some(ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
        })
        .await;
    if let Err(status) = &large {
        assert!(
            !matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted),
            "8 MiB request refused for its size: {status:?}"
        );
    }

    // The host keeps StreamStdio open for the plugin's whole life: it must open and stay silent.
    let mut stdio = GrpcStdioClient::new(channel.clone())
        .stream_stdio(Empty {})
        .await
        .expect("StreamStdio")
        .into_inner();
    let early = tokio::time::timeout(Duration::from_millis(100), stdio.next()).await;
    assert!(
        early.is_err(),
        "StreamStdio must stay silent, got {early:?}"
    );

    // Ctrl-C reaches the whole process group; the plugin must shrug it off.
    send_signal(plugin.pid(), "INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        plugin.child.try_wait().unwrap().is_none(),
        "SIGINT killed the plugin"
    );
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );

    let asked = Instant::now();
    GrpcControllerClient::new(channel.clone())
        .shutdown(Empty {})
        .await
        .expect("Shutdown replies before the plugin exits");
    let status = plugin.wait(Duration::from_secs(5)).await;
    let exit_after = asked.elapsed();
    eprintln!("exited {exit_after:?} after Shutdown");
    assert!(status.success(), "exit status {status}");
    assert!(
        exit_after < EXIT_AFTER_SHUTDOWN_LIMIT,
        "took {exit_after:?} to exit after Shutdown"
    );

    // The stdio stream ends with the plugin rather than erroring out mid-flight.
    let end = tokio::time::timeout(Duration::from_secs(1), stdio.next()).await;
    assert!(matches!(end, Ok(None) | Ok(Some(Err(_)))), "{end:?}");

    assert_eq!(
        plugin.rest_of_stdout().await,
        "",
        "stdout must hold the handshake line only"
    );
    assert!(
        !plugin.handshake.socket().parent().unwrap().exists(),
        "socket directory left behind"
    );
}

#[tokio::test]
async fn serves_an_rcgen_host_certificate_too() {
    let host = HostIdentity::generated();
    let mut plugin = Plugin::start(Some(&host.cert_pem)).await;
    let channel = plugin.channel(&host).await;
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    assert!(plugin.wait(EXIT_AFTER_SHUTDOWN_LIMIT).await.success());
    assert_eq!(plugin.rest_of_stdout().await, "");
}

#[tokio::test]
async fn refuses_a_client_with_another_certificate() {
    let host = HostIdentity::generated();
    let stranger = HostIdentity::terraform_like();
    let plugin = Plugin::start(Some(&host.cert_pem)).await;
    let der = plugin.handshake.server_cert_der.clone().unwrap();

    // In TLS 1.3 the client may believe the handshake done before the server's verdict
    // arrives, so the refusal can surface either at connect or at the first call.
    let refused = match dial(&plugin.handshake.address, Some(client_tls(&der, &stranger))).await {
        Err(_) => true,
        Ok(channel) => tokio::time::timeout(Duration::from_secs(5), health(channel))
            .await
            .expect("refusal must be prompt")
            .is_err(),
    };
    assert!(refused, "a client with a foreign certificate was served");

    // A client without any certificate is refused as well.
    let anonymous = {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServer {
                der: CertificateDer::from(der.clone()),
                provider,
            }))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Arc::new(config)
    };
    let refused = match dial(&plugin.handshake.address, Some(anonymous)).await {
        Err(_) => true,
        Ok(channel) => health(channel).await.is_err(),
    };
    assert!(refused, "a client without a certificate was served");

    // And the rightful host is still served afterwards.
    let channel = plugin.channel(&host).await;
    assert_eq!(
        health(channel).await.unwrap(),
        ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn without_a_client_cert_serves_plaintext_with_an_empty_cert_field() {
    let mut plugin = Plugin::start(None).await;
    assert!(plugin.handshake.server_cert_der.is_none());
    let channel = dial(&plugin.handshake.address, None).await.unwrap();
    assert_eq!(
        health(channel).await.unwrap(),
        ServingStatus::Serving as i32
    );
    send_signal(plugin.pid(), "TERM");
    assert!(plugin.wait(EXIT_AFTER_SHUTDOWN_LIMIT).await.success());
    assert_eq!(plugin.rest_of_stdout().await, "");
}

#[tokio::test]
async fn logs_reach_stderr_as_hclog_json() {
    let socket_parent = tempfile::tempdir().unwrap();
    let mut child = host_command()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_parent.path())
        .env("TF_LOG", "trace")
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    let handshake = parse_handshake(line.trim_end());
    let channel = dial(&handshake.address, None).await.unwrap();
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let shutdown_line = lines
        .iter()
        .find(|line| line["@message"] == "host asked the plugin to shut down")
        .unwrap_or_else(|| panic!("no shutdown line in {stderr}"));
    // Lines logged inside a call name the RPC, like terraform-plugin-go's.
    assert_eq!(shutdown_line["tf_rpc"], "Shutdown");
    assert!(shutdown_line["tf_req_id"].is_u64());
    for line in &lines {
        let timestamp = line["@timestamp"].as_str().unwrap();
        assert_eq!(
            timestamp.len(),
            "2026-11-22T14:00:00.123456Z".len(),
            "{line}"
        );
        assert!(
            ["trace", "debug", "info", "warn", "error"].contains(&line["@level"].as_str().unwrap())
        );
    }
}

/// If the host dies without calling Shutdown (SIGKILL, crash), the orphaned plugin must not
/// linger: it notices it was re-parented and exits, removing its socket.
#[tokio::test]
async fn exits_when_the_host_goes_away() {
    let socket_parent = tempfile::tempdir().unwrap();
    // A stand-in host: a shell that starts the plugin and dies half a second later.
    let mut host = Command::new("sh");
    host.args(["-c", &format!("'{BINARY}' & sleep 0.5")])
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_UNIX_SOCKET_DIR", socket_parent.path())
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut host = host.spawn().unwrap();
    let mut stdout = BufReader::new(host.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    let handshake = parse_handshake(line.trim_end());
    assert!(host.wait().await.unwrap().success());
    let orphaned = Instant::now();

    // The plugin holds the write end of the pipe: EOF means it has exited.
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), stdout.read_to_string(&mut rest))
        .await
        .expect("the orphaned plugin is still running")
        .unwrap();
    eprintln!("orphan exited {:?} after its host", orphaned.elapsed());
    assert_eq!(rest, "");
    assert!(!handshake.socket().parent().unwrap().exists());
}

/// Where no unix socket can be made (here: a path beyond the kernel's length limit), the plugin
/// falls back to loopback TCP inside the host's port range, still under mutual TLS.
#[tokio::test]
async fn falls_back_to_tcp_in_the_port_range() {
    let parent = tempfile::tempdir().unwrap();
    let too_deep = parent.path().join("d".repeat(200));
    std::fs::create_dir(&too_deep).unwrap();
    let host = HostIdentity::terraform_like();
    let mut plugin = Plugin::start_in(Some(&host.cert_pem), &too_deep, parent).await;
    let Address::Tcp(addr) = &plugin.handshake.address else {
        panic!("expected tcp, got {:?}", plugin.handshake.address);
    };
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert!((10000..=25000).contains(&addr.port()));
    let channel = plugin.channel(&host).await;
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    assert!(plugin.wait(EXIT_AFTER_SHUTDOWN_LIMIT).await.success());
}

/// A stream the plugin does not end itself (here a health Watch) must not keep it alive past
/// Terraform's patience: draining is capped and the process exits anyway.
#[tokio::test]
async fn exits_promptly_even_with_a_stream_left_open() {
    let host = HostIdentity::generated();
    let mut plugin = Plugin::start(Some(&host.cert_pem)).await;
    let channel = plugin.channel(&host).await;
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let asked = Instant::now();
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    assert!(plugin.wait(EXIT_AFTER_SHUTDOWN_LIMIT).await.success());
    eprintln!(
        "exited {:?} after Shutdown with a Watch open",
        asked.elapsed()
    );
    drop(watch);
}
