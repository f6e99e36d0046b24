//! The go-plugin handshake: what the host tells us through the environment and the one line we
//! answer on stdout. Everything here is pure so the contract is unit-tested without a process.
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;

/// Environment variable carrying the magic cookie every go-plugin host for Terraform sets.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The cookie value shared by Terraform and OpenTofu. It is not a secret: it only tells a
/// human who runs the binary by hand that it is not a standalone program.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Protocol versions the host speaks, comma separated, in any order.
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// The only application protocol this provider speaks.
pub const PROTOCOL_VERSION: u32 = 5;
/// go-plugin's own (core) protocol version, the first field of the handshake line.
const CORE_PROTOCOL_VERSION: u32 = 1;

/// Why the process must not start serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Run by a human (or anything else) rather than by Terraform or OpenTofu.
    #[error(
        "terraform-provider-crdb is a Terraform/OpenTofu plugin and does nothing on its \
         own. Run `terraform init` (or `tofu init`) in a configuration that uses the \
         provider; Terraform starts this binary itself when it needs it."
    )]
    NotLaunchedByHost,
    /// The host offered protocol versions, none of which is ours.
    #[error(
        "this provider speaks plugin protocol {PROTOCOL_VERSION}, but the host only \
         offered \"{offered}\"; use a Terraform or OpenTofu release that supports \
         protocol {PROTOCOL_VERSION}"
    )]
    NoCommonProtocol { offered: String },
}

/// Accepts the process only when the host set the exact magic cookie.
pub fn check_magic_cookie(value: Option<&str>) -> Result<(), HandshakeError> {
    match value {
        Some(cookie) if cookie == MAGIC_COOKIE_VALUE => Ok(()),
        _ => Err(HandshakeError::NotLaunchedByHost),
    }
}

/// Picks the protocol version to answer with.
///
/// An absent or empty list means an old host that predates negotiation; like go-plugin we then
/// answer with our own version and let the host judge. Entries that are not numbers are skipped.
pub fn negotiate_protocol_version(offered: Option<&str>) -> Result<u32, HandshakeError> {
    let Some(list) = offered.map(str::trim).filter(|list| !list.is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let speaks_ours = list
        .split(',')
        .filter_map(|entry| entry.trim().parse::<u32>().ok())
        .any(|version| version == PROTOCOL_VERSION);
    if speaks_ours {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::NoCommonProtocol {
            offered: list.to_owned(),
        })
    }
}

/// Where the gRPC server listens, as the host must dial it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl ListenAddress {
    fn network(&self) -> &'static str {
        match self {
            Self::Unix(_) => "unix",
            Self::Tcp(_) => "tcp",
        }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "{}", path.display()),
            Self::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// The line go-plugin hosts wait for on stdout, without the trailing newline:
/// `CORE|APP|NETWORK|ADDRESS|grpc|CERT`.
///
/// `CERT` is the server certificate's DER in standard base64 without padding (Go's
/// `RawStdEncoding`), or empty when the host did not ask for AutoMTLS.
pub fn handshake_line(
    protocol_version: u32,
    address: &ListenAddress,
    server_cert_der: Option<&[u8]>,
) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!(
        "{CORE_PROTOCOL_VERSION}|{protocol_version}|{}|{address}|grpc|{cert}",
        address.network()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_must_match_exactly() {
        assert_eq!(check_magic_cookie(Some(MAGIC_COOKIE_VALUE)), Ok(()));
        assert_eq!(
            check_magic_cookie(None),
            Err(HandshakeError::NotLaunchedByHost)
        );
        assert_eq!(
            check_magic_cookie(Some("")),
            Err(HandshakeError::NotLaunchedByHost)
        );
        let with_space = format!("{MAGIC_COOKIE_VALUE} ");
        assert!(check_magic_cookie(Some(&with_space)).is_err());
    }

    #[test]
    fn refusal_explains_itself_to_a_human() {
        let text = HandshakeError::NotLaunchedByHost.to_string();
        assert!(text.contains("plugin"), "{text}");
        assert!(text.contains("terraform init"), "{text}");
    }

    #[test]
    fn negotiation_accepts_5_in_any_position() {
        for offered in ["5", "5,6", "6,5", " 6 , 5 ", "4,5,6", "x,5"] {
            assert_eq!(
                negotiate_protocol_version(Some(offered)),
                Ok(5),
                "{offered}"
            );
        }
    }

    #[test]
    fn negotiation_without_a_list_answers_5() {
        assert_eq!(negotiate_protocol_version(None), Ok(5));
        assert_eq!(negotiate_protocol_version(Some("  ")), Ok(5));
    }

    #[test]
    fn negotiation_refuses_hosts_without_5() {
        let refused = negotiate_protocol_version(Some("6,4")).unwrap_err();
        assert_eq!(
            refused,
            HandshakeError::NoCommonProtocol {
                offered: "6,4".into()
            }
        );
        assert!(refused.to_string().contains("\"6,4\""));
        // "55" is not 5: compare numbers, not substrings.
        assert!(negotiate_protocol_version(Some("55,15")).is_err());
    }

    #[test]
    fn unix_line_carries_unpadded_standard_base64_of_the_cert() {
        // Padded, these bytes would end in "=="; the 0xfb/0xff/0xbf run exercises '+' and '/'.
        let der = [0xfb, 0xff, 0xbf, 0x01];
        let line = handshake_line(
            5,
            &ListenAddress::Unix("/tmp/p/plugin.sock".into()),
            Some(&der),
        );
        assert_eq!(line, "1|5|unix|/tmp/p/plugin.sock|grpc|+/+/AQ");
    }

    #[test]
    fn plaintext_line_has_an_empty_cert_field() {
        let line = handshake_line(
            5,
            &ListenAddress::Tcp("127.0.0.1:10001".parse().unwrap()),
            None,
        );
        assert_eq!(line, "1|5|tcp|127.0.0.1:10001|grpc|");
    }
}
