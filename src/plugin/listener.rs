//! Binding the socket the host dials: a unix socket in a private directory when possible, else a
//! loopback TCP port inside the range the host allows.
use std::fs::DirBuilder;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use super::handshake::ListenAddress;

/// Where go-plugin hosts ask for the unix socket (e.g. a directory shared with a container).
pub const UNIX_SOCKET_DIR_KEY: &str = "PLUGIN_UNIX_SOCKET_DIR";
pub const MIN_PORT_KEY: &str = "PLUGIN_MIN_PORT";
pub const MAX_PORT_KEY: &str = "PLUGIN_MAX_PORT";

/// Where we may listen, as the host's environment says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenConfig {
    /// Parent of our private socket directory; the system temp dir when unset.
    pub unix_socket_dir: Option<PathBuf>,
    /// Inclusive TCP port range for the fallback; `0..=0` lets the kernel choose.
    pub min_port: u16,
    pub max_port: u16,
}

impl ListenConfig {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let port = |key| {
            get(key)
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0)
        };
        Self {
            unix_socket_dir: get(UNIX_SOCKET_DIR_KEY)
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
            min_port: port(MIN_PORT_KEY),
            max_port: port(MAX_PORT_KEY),
        }
    }
}

/// A bound listener. Dropping it removes the unix socket and its directory.
pub struct Listener {
    socket: Socket,
    address: ListenAddress,
    _socket_dir: Option<PrivateDir>,
}

enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Any accepted byte stream, so TLS and plaintext, unix and TCP share one connection type.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

impl Listener {
    /// Binds a unix socket, falling back to TCP on loopback when that is impossible (for
    /// example a socket path longer than the kernel's limit).
    pub fn bind(config: &ListenConfig) -> io::Result<Self> {
        match Self::bind_unix(config.unix_socket_dir.as_deref()) {
            Ok(listener) => Ok(listener),
            Err(unix_error) => {
                tracing::warn!(error = %unix_error, "cannot listen on a unix socket, using TCP");
                Self::bind_tcp(config.min_port, config.max_port)
            }
        }
    }

    fn bind_unix(parent: Option<&Path>) -> io::Result<Self> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = PrivateDir::create_in(&parent)?;
        let path = dir.path.join("plugin.sock");
        let socket = UnixListener::bind(&path)?;
        Ok(Self {
            socket: Socket::Unix(socket),
            address: ListenAddress::Unix(path),
            _socket_dir: Some(dir),
        })
    }

    fn bind_tcp(min_port: u16, max_port: u16) -> io::Result<Self> {
        if min_port > max_port {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{MIN_PORT_KEY}={min_port} is above {MAX_PORT_KEY}={max_port}"),
            ));
        }
        let mut last_error = None;
        for port in min_port..=max_port {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match std::net::TcpListener::bind(addr).and_then(|std_listener| {
                std_listener.set_nonblocking(true)?;
                TcpListener::from_std(std_listener)
            }) {
                Ok(socket) => {
                    let address = ListenAddress::Tcp(socket.local_addr()?);
                    return Ok(Self {
                        socket: Socket::Tcp(socket),
                        address,
                        _socket_dir: None,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no TCP port available")))
    }

    pub fn address(&self) -> &ListenAddress {
        &self.address
    }

    pub async fn accept(&self) -> io::Result<Box<dyn Io>> {
        Ok(match &self.socket {
            Socket::Unix(socket) => Box::new(socket.accept().await?.0),
            Socket::Tcp(socket) => {
                let (stream, _) = socket.accept().await?;
                // gRPC sends many small frames; Nagle would only add latency.
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
        })
    }
}

/// A directory only our user can enter, so no other local user can dial the socket even when
/// the host did not ask for mutual TLS.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn create_in(parent: &Path) -> io::Result<Self> {
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        for attempt in 0..16u32 {
            let path = parent.join(format!(
                "terraform-provider-crdb-{pid}-{:x}",
                nanos.wrapping_add(attempt)
            ));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not create a fresh socket directory",
        ))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Best effort: a failure here must not turn a clean exit into an error.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_env::env;

    #[test]
    fn config_reads_the_host_environment() {
        let config = ListenConfig::from_env(env(&[
            (UNIX_SOCKET_DIR_KEY, "/run/plugins"),
            (MIN_PORT_KEY, "10000"),
            (MAX_PORT_KEY, " 10010 "),
        ]));
        assert_eq!(
            config,
            ListenConfig {
                unix_socket_dir: Some("/run/plugins".into()),
                min_port: 10000,
                max_port: 10010
            }
        );
        assert_eq!(ListenConfig::from_env(env(&[])), ListenConfig::default());
    }

    #[tokio::test]
    async fn unix_socket_lives_in_a_private_dir_removed_on_drop() {
        let parent = tempfile::tempdir().unwrap();
        let listener = Listener::bind(&ListenConfig {
            unix_socket_dir: Some(parent.path().into()),
            ..Default::default()
        })
        .unwrap();
        let ListenAddress::Unix(path) = listener.address().clone() else {
            panic!("expected a unix socket");
        };
        let dir = path.parent().unwrap().to_path_buf();
        assert!(dir.starts_with(parent.path()));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(listener);
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn falls_back_to_loopback_tcp_when_the_socket_path_is_too_long() {
        let parent = tempfile::tempdir().unwrap();
        let deep = parent.path().join("d".repeat(200));
        std::fs::create_dir(&deep).unwrap();
        let listener = Listener::bind(&ListenConfig {
            unix_socket_dir: Some(deep),
            ..Default::default()
        })
        .unwrap();
        let ListenAddress::Tcp(addr) = listener.address() else {
            panic!("expected TCP, got {:?}", listener.address());
        };
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
    }

    #[tokio::test]
    async fn tcp_stays_inside_the_port_range() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        // The first port is busy, so the listener must take a later one in range.
        let last = port.saturating_add(20);
        let listener = Listener::bind_tcp(port, last).unwrap();
        let ListenAddress::Tcp(addr) = listener.address() else {
            unreachable!()
        };
        assert!(addr.port() > port && addr.port() <= last);
        assert!(Listener::bind_tcp(port, port).is_err());
        assert!(Listener::bind_tcp(20, 10).is_err());
    }
}
