//! Uploaded certificates are checked with certificates made here (rcgen): a good one passes with
//! its names, issuer and validity read; an expired one, a mismatched key, one without DNS names
//! and junk are refused, each saying why.

use super::*;

/// rcgen's certificates are valid from 1975 to 4096 unless told otherwise.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn made(names: &[&str], not_after: Option<(i32, u8, u8)>) -> (String, String) {
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if let Some((y, m, d)) = not_after {
        params.not_before = rcgen::date_time_ymd(y - 1, m, d);
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn a_good_certificate_is_read() {
    let (chain, key) = made(&["ads.example.com", "*.ads.example.com"], None);
    let checked = check(&chain, &key, now(), CertSource::Upload).unwrap();
    assert_eq!(checked.record.names, ["ads.example.com", "*.ads.example.com"]);
    assert_eq!(checked.record.id.len(), 64);
    assert!(checked.record.not_after > now());
    assert!(checked.record.issuer.contains("rcgen"), "{}", checked.record.issuer);
    assert_eq!(checked.served.names, checked.record.names);
}

#[test]
fn bad_uploads_are_refused_with_the_reason() {
    let (chain, key) = made(&["ads.example.com"], None);
    let (_, other_key) = made(&["ads.example.com"], None);
    let err = check(&chain, &other_key, now(), CertSource::Upload).unwrap_err();
    assert!(matches!(err, CertError::KeyMismatch), "{err}");
    assert!(err.to_string().contains("does not match"));

    let (old, old_key) = made(&["ads.example.com"], Some((2020, 1, 1)));
    let err = check(&old, &old_key, now(), CertSource::Upload).unwrap_err();
    assert!(err.to_string().contains("expired on 2020-01-01"), "{err}");

    let (no_names, nn_key) = made(&[], None);
    assert!(matches!(check(&no_names, &nn_key, now(), CertSource::Upload), Err(CertError::NoNames)));

    assert!(matches!(check("junk", &key, now(), CertSource::Upload), Err(CertError::NoCertificate(_))));
    assert!(matches!(check(&chain, "junk", now(), CertSource::Upload), Err(CertError::NoKey(_))));
    assert!(matches!(check(&chain, &chain, now(), CertSource::Upload), Err(CertError::NoKey(_))), "a cert is no key");
}
