//! Certificates the TLS and proxy tests make: a CA of their own and leaves it signs, as PEM
//! files (nothing checked in, nothing fetched).

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

/// A CA (`ca.pem`), and leaves for localhost/127.0.0.1 it signs (`cert.pem`, `key.pem`).
pub struct Certificates {
    pub ca: Issuer<'static, KeyPair>,
}

impl Certificates {
    pub fn new(dir: &Path) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "insectid test CA");
        let key = KeyPair::generate().unwrap();
        std::fs::write(dir.join("ca.pem"), params.self_signed(&key).unwrap().pem()).unwrap();
        Certificates { ca: Issuer::new(params, key) }
    }

    /// Writes the leaf's key and chain (each by a rename, as a renewal tool does).
    pub fn issue(&self, dir: &Path, name: &str) {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        for (file, text) in [("key.pem", key.serialize_pem()), ("cert.pem", cert.pem())] {
            std::fs::write(dir.join(format!("{file}.new")), text).unwrap();
            std::fs::rename(dir.join(format!("{file}.new")), dir.join(file)).unwrap();
        }
    }
}
