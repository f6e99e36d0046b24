//! The DNS messages (RFC 1035) of one A-record lookup: the query a stub resolver sends, the server's parse of it,
//! the answer, and the client's parse of that answer with names compressed by pointer, as every resolver sends
//! them. Nothing else of DNS (no EDNS, no other record types in answers than skipped ones).

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const CLASS_IN: u16 = 1;

const HEADER_LEN: usize = 12;
/// A name's wire form (length octets included) is at most 255 octets, a label at most 63.
const MAX_NAME_OCTETS: usize = 255;
const MAX_LABEL_OCTETS: usize = 63;
/// The top two bits of a length octet mark a compression pointer.
const POINTER: u8 = 0xc0;
/// Header flags: a response (QR), authoritative (AA), recursion desired (RD), in the third octet.
const FLAG_RESPONSE: u8 = 0x80;
const FLAG_AUTHORITATIVE: u8 = 0x04;
const FLAG_RECURSION_DESIRED: u8 = 0x01;
const RCODE_NXDOMAIN: u8 = 3;
/// How long a resolver may cache the sandbox's answers.
const ANSWER_TTL_SECONDS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name cannot be carried by DNS (an empty or over-long label, or over 253 characters).
    #[error("{0:?} is not a valid DNS name")]
    InvalidName(String),
    /// Not a DNS response to the query asked, or cut short.
    #[error("malformed DNS response")]
    Malformed,
    /// NXDOMAIN: the server knows the name does not exist.
    #[error("no such name (NXDOMAIN)")]
    NoSuchName,
    /// Any other response code (2 server failure, 5 refused, ...).
    #[error("the DNS server answered with error code {0}")]
    ErrorCode(u8),
}

/// A recursive A query for `name` (a trailing dot is allowed), with message id `id`.
pub fn a_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let mut packet = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[FLAG_RECURSION_DESIRED, 0]);
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    encode_name(&mut packet, name)?;
    packet.extend_from_slice(&TYPE_A.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(packet)
}

fn encode_name(out: &mut Vec<u8>, name: &str) -> Result<(), DnsError> {
    let invalid = || DnsError::InvalidName(name.to_owned());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.len() + 2 > MAX_NAME_OCTETS {
        return Err(invalid());
    }
    for label in trimmed.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_OCTETS {
            return Err(invalid());
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// The one question of a query, as a server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    /// Lower-cased, without the trailing dot: DNS names compare case-insensitively.
    pub name: String,
    pub qtype: u16,
    recursion_desired: bool,
    /// The question as it was sent, echoed in the answer.
    wire: Vec<u8>,
}

/// The question of a query with exactly one; `None` for anything else (responses, truncated packets, names that
/// are not plain labels).
pub fn parse_query(packet: &[u8]) -> Option<Question> {
    let header = packet.get(..HEADER_LEN)?;
    if header[2] & FLAG_RESPONSE != 0 || u16::from_be_bytes([header[4], header[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > MAX_LABEL_OCTETS || at - HEADER_LEN + len > MAX_NAME_OCTETS {
            return None;
        }
        let label = std::str::from_utf8(packet.get(at..at + len)?).ok()?;
        labels.push(label.to_ascii_lowercase());
        at += len;
    }
    let fixed = packet.get(at..at + 4)?;
    Some(Question {
        id: u16::from_be_bytes([header[0], header[1]]),
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        recursion_desired: header[2] & FLAG_RECURSION_DESIRED != 0,
        wire: packet[HEADER_LEN..at + 4].to_vec(),
    })
}

/// An authoritative answer to `question`: `addresses` as A records naming the question by pointer, NOERROR with
/// no records for another type, NXDOMAIN when the name has no address at all.
pub fn a_response(question: &Question, addresses: &[Ipv4Addr]) -> Vec<u8> {
    let answers: &[Ipv4Addr] = if question.qtype == TYPE_A {
        addresses
    } else {
        &[]
    };
    let rcode = if addresses.is_empty() {
        RCODE_NXDOMAIN
    } else {
        0
    };
    let mut flags = FLAG_RESPONSE | FLAG_AUTHORITATIVE;
    if question.recursion_desired {
        flags |= FLAG_RECURSION_DESIRED;
    }
    // A 512-octet UDP answer holds far fewer records than this; the count field cannot overflow.
    let count = u16::try_from(answers.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + question.wire.len() + 16 * answers.len());
    out.extend_from_slice(&question.id.to_be_bytes());
    out.extend_from_slice(&[flags, rcode]);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&question.wire);
    for ip in &answers[..usize::from(count)] {
        out.extend_from_slice(&[POINTER, HEADER_LEN as u8]); // the question's name
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ANSWER_TTL_SECONDS.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// The A records of a response to query `id`, skipping other records (a CNAME chain's links).
pub fn parse_a_response(packet: &[u8], id: u16) -> Result<Vec<Ipv4Addr>, DnsError> {
    let header = packet.get(..HEADER_LEN).ok_or(DnsError::Malformed)?;
    if u16::from_be_bytes([header[0], header[1]]) != id || header[2] & FLAG_RESPONSE == 0 {
        return Err(DnsError::Malformed);
    }
    match header[3] & 0x0f {
        0 => {}
        RCODE_NXDOMAIN => return Err(DnsError::NoSuchName),
        code => return Err(DnsError::ErrorCode(code)),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = HEADER_LEN;
    for _ in 0..questions {
        at = skip_name(packet, at).ok_or(DnsError::Malformed)? + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = skip_name(packet, at).ok_or(DnsError::Malformed)?;
        let fixed = packet.get(at..at + 10).ok_or(DnsError::Malformed)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = packet
            .get(at + 10..at + 10 + length)
            .ok_or(DnsError::Malformed)?;
        if let (TYPE_A, CLASS_IN, [a, b, c, d]) = (rtype, class, data) {
            addresses.push(Ipv4Addr::new(*a, *b, *c, *d));
        }
        at += 10 + length;
    }
    Ok(addresses)
}

/// The offset just past a name that starts at `at`, which may end in a compression pointer.
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        match len & POINTER {
            0 if len == 0 => return Some(at + 1),
            0 => at += 1 + usize::from(len),
            POINTER => return packet.get(at + 1).map(|_| at + 2),
            _ => return None, // the reserved label types 0x40 and 0x80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(name: &str, addresses: &[Ipv4Addr]) -> Result<Vec<Ipv4Addr>, DnsError> {
        let query = a_query(0x1234, name)?;
        let question = parse_query(&query).expect("a query parses");
        parse_a_response(&a_response(&question, addresses), 0x1234)
    }

    #[test]
    fn a_query_is_answered_and_the_answer_read_back() {
        let query = a_query(7, "A0001dns-1234abcd.elb.sandbox.invalid.").unwrap();
        let question = parse_query(&query).unwrap();
        assert_eq!(question.id, 7);
        assert_eq!(question.name, "a0001dns-1234abcd.elb.sandbox.invalid");
        assert_eq!(question.qtype, TYPE_A);
        let addresses = [
            Ipv4Addr::new(203, 0, 113, 9),
            Ipv4Addr::new(203, 0, 113, 10),
        ];
        let response = a_response(&question, &addresses);
        assert_eq!(
            response[2], 0x85,
            "response, authoritative, recursion desired echoed"
        );
        assert_eq!(response[3] & 0x0f, 0, "NOERROR");
        assert_eq!(parse_a_response(&response, 7).unwrap(), addresses);
        assert_eq!(round_trip("lb.example", &[]), Err(DnsError::NoSuchName));
    }

    #[test]
    fn other_query_types_get_no_records() {
        let mut query = a_query(9, "lb.example").unwrap();
        let at = query.len() - 4;
        query[at..at + 2].copy_from_slice(&28u16.to_be_bytes()); // AAAA
        let question = parse_query(&query).unwrap();
        let response = a_response(&question, &[Ipv4Addr::LOCALHOST]);
        assert!(parse_a_response(&response, 9).unwrap().is_empty());
    }

    #[test]
    fn answers_are_read_past_compressed_names_and_other_records() {
        let mut response = a_query(7, "lb.example").unwrap();
        response[2] = 0x81;
        response[3] = 0x80;
        response[7] = 2;
        // A CNAME-like record to skip, then the A record, both naming the question by pointer.
        response.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12]);
        response.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, 7]);
        assert_eq!(
            parse_a_response(&response, 7).unwrap(),
            vec![Ipv4Addr::new(198, 51, 100, 7)]
        );
        assert_eq!(parse_a_response(&response, 8), Err(DnsError::Malformed));
        response[3] = 0x82;
        assert_eq!(
            parse_a_response(&response, 7).unwrap_err().to_string(),
            "the DNS server answered with error code 2"
        );
        response[3] = 0x83;
        assert!(parse_a_response(&response, 7)
            .unwrap_err()
            .to_string()
            .contains("NXDOMAIN"));
    }

    #[test]
    fn names_dns_cannot_carry_are_refused() {
        let long_label = "a".repeat(64);
        let long_name = ["abcdefghi"; 26].join(".");
        for bad in ["", ".", "a..b", long_label.as_str(), long_name.as_str()] {
            assert_eq!(
                a_query(1, bad),
                Err(DnsError::InvalidName(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(a_query(1, &["abcdefghi"; 25].join(".")).is_ok());
    }

    #[test]
    fn cut_or_corrupted_packets_are_refused_without_panicking() {
        let query = a_query(3, "lb.example").unwrap();
        let response = a_response(&parse_query(&query).unwrap(), &[Ipv4Addr::LOCALHOST]);
        for end in 0..response.len() {
            assert!(parse_a_response(&response[..end], 3).is_err(), "{end}");
        }
        for end in 0..query.len() {
            assert!(parse_query(&query[..end]).is_none(), "{end}");
        }
        assert!(
            parse_query(&response).is_none(),
            "a response is not a query"
        );
        for at in 0..response.len() {
            for byte in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut corrupt = response.clone();
                corrupt[at] = byte;
                let _ = parse_a_response(&corrupt, 3);
                let _ = parse_query(&corrupt);
            }
        }
    }
}
