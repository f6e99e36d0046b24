//! Reading PEM text as users paste it: comments around blocks, CRLF line ends, and the `EC PARAMETERS` block that
//! `openssl ecparam -genkey` writes before the key.

use std::io::Cursor;

use crate::cockroach::validate::Invalid;

use x509_parser::error::PEMError;
pub(crate) use x509_parser::pem::Pem;

const CERTIFICATE: &str = "CERTIFICATE";

/// The DER of the one certificate in `text`.
///
/// More than one is refused rather than silently using the first: a bundle given where one certificate belongs is
/// more likely a mistake than something to guess about.
pub(crate) fn single_certificate_der(text: &str) -> Result<Vec<u8>, Invalid> {
    let mut blocks = blocks(text)?;
    match blocks.len() {
        0 => Err(Invalid(
            "no PEM block found; expected one -----BEGIN CERTIFICATE----- block".to_owned(),
        )),
        1 if blocks[0].label == CERTIFICATE => Ok(blocks.remove(0).contents),
        1 => Err(Invalid(format!(
            "found a {} PEM block where a CERTIFICATE block was expected",
            blocks[0].label
        ))),
        n => Err(Invalid(format!(
            "found {n} PEM blocks where exactly one CERTIFICATE block was expected"
        ))),
    }
}

/// The one private key block in `text`, with its label (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`...).
pub(crate) fn single_private_key(text: &str) -> Result<Pem, Invalid> {
    let mut keys: Vec<Pem> = blocks(text)?
        .into_iter()
        .filter(|block| block.label != "EC PARAMETERS")
        .collect();
    match keys.len() {
        0 => Err(Invalid(
            "no PEM block found; expected one unencrypted private key in PEM".to_owned(),
        )),
        1 if keys[0].label.ends_with("PRIVATE KEY") => Ok(keys.remove(0)),
        1 => Err(Invalid(format!(
            "found a {} PEM block where a private key was expected",
            keys[0].label
        ))),
        n => Err(Invalid(format!(
            "found {n} PEM blocks where exactly one private key was expected"
        ))),
    }
}

pub(crate) fn blocks(text: &str) -> Result<Vec<Pem>, Invalid> {
    let mut cursor = Cursor::new(text.as_bytes());
    let mut blocks = Vec::new();
    loop {
        match Pem::read(&mut cursor) {
            Ok((block, _)) => blocks.push(block),
            // No further BEGIN line: whatever follows the last block is commentary.
            Err(PEMError::MissingHeader) => return Ok(blocks),
            Err(error) => return Err(describe(error)),
        }
    }
}

fn describe(error: PEMError) -> Invalid {
    Invalid(match error {
        PEMError::InvalidHeader => "a PEM BEGIN line is malformed".to_owned(),
        PEMError::IncompletePEM => "a PEM block has no END line".to_owned(),
        PEMError::Base64DecodeError => "a PEM block's body is not valid base64".to_owned(),
        other => format!("the PEM text cannot be read ({other})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_CERT: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";

    #[test]
    fn reads_a_certificate_surrounded_by_comments_and_crlf() {
        let text = format!(
            "subject=CN = x\r\n{}\r\n\r\n",
            ONE_CERT.replace('\n', "\r\n")
        );
        assert_eq!(single_certificate_der(&text).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn refuses_bundles_missing_blocks_and_wrong_labels() {
        assert!(single_certificate_der(&ONE_CERT.repeat(2))
            .unwrap_err()
            .contains("2 PEM blocks"));
        assert!(single_certificate_der("hello")
            .unwrap_err()
            .contains("no PEM block"));
        let key = ONE_CERT.replace("CERTIFICATE", "PRIVATE KEY");
        assert!(single_certificate_der(&key)
            .unwrap_err()
            .contains("PRIVATE KEY PEM block"));
        assert!(single_private_key(ONE_CERT)
            .unwrap_err()
            .contains("CERTIFICATE PEM block"));
    }

    #[test]
    fn refuses_broken_blocks() {
        assert!(
            single_certificate_der("-----BEGIN CERTIFICATE-----\nAAEC\n")
                .unwrap_err()
                .contains("END")
        );
        let bad_base64 = ONE_CERT.replace("AAEC", "!!!!");
        assert!(single_certificate_der(&bad_base64)
            .unwrap_err()
            .contains("base64"));
    }

    #[test]
    fn skips_the_ec_parameters_block_openssl_writes_before_a_key() {
        let text = include_str!("testdata/p256.sec1.pem");
        assert_eq!(single_private_key(text).unwrap().label, "EC PRIVATE KEY");
    }
}
