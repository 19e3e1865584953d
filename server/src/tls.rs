//! HTTPS served directly: the certificate and key from PEM files (`INSECTID_TLS_CERT`,
//! `INSECTID_TLS_KEY`), watched and loaded again when they change (a renewal needs no
//! restart; a broken renewal keeps the old pair and says so), HTTP/2 and HTTP/1.1 by ALPN.
//!
//! Handshakes run in their own tasks, each bounded in time and in number (in all and per
//! address), so a client that stalls its handshakes holds neither the accept loop nor more
//! than its address's share of slots.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 1024;
/// Handshakes in progress from one address: one host cannot take every slot.
const MAX_HANDSHAKES_PER_ADDRESS: usize = 16;

/// Where the PEM files are, and how often they are looked at.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub check_every: Duration,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate chain and key in the files, checked to belong together.
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", files.cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", files.key.display()))?;
    CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| format!("{} and {} do not make a usable pair: {e}", files.cert.display(), files.key.display()))
}

/// The pair served now; replaced when the files change and load.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// The files' modification times and sizes: what a renewal changes.
fn stamp(files: &TlsFiles) -> Option<[(SystemTime, u64); 2]> {
    let of = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
    Some([of(&files.cert)?, of(&files.key)?])
}

impl ReloadingCert {
    /// Loads the pair (an error stops the start) and watches the files from then on.
    pub fn start(files: TlsFiles) -> Result<Arc<Self>, String> {
        let first = load(&files)?;
        let cert = Arc::new(ReloadingCert { current: RwLock::new(Arc::new(first)) });
        let watched = cert.clone();
        tokio::spawn(async move {
            let mut seen = stamp(&files);
            let mut ticks = tokio::time::interval(files.check_every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = stamp(&files);
                if now.is_none() || now == seen {
                    continue;
                }
                // A renewal writes two files: read them only once both have settled.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stamp(&files) != now {
                    continue;
                }
                seen = now;
                match load(&files) {
                    Ok(pair) => {
                        if let Ok(mut current) = watched.current.write() {
                            *current = Arc::new(pair);
                        }
                        tracing::info!(cert = %files.cert.display(), "TLS certificate loaded again");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the changed TLS files were not loaded; serving the previous pair")
                    }
                }
            }
        });
        Ok(cert)
    }

    pub fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

/// One address's handshake in progress, counted until it ends.
struct Handshaking {
    counts: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Handshaking {
    /// None when that address has its share in progress already.
    fn start(counts: &Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr) -> Option<Self> {
        let mut held = counts.lock().ok()?;
        let n = held.entry(ip).or_insert(0);
        if *n >= MAX_HANDSHAKES_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(Handshaking { counts: counts.clone(), ip })
    }
}

impl Drop for Handshaking {
    fn drop(&mut self) {
        if let Ok(mut held) = self.counts.lock() {
            if let Some(n) = held.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&self.ip);
                }
            }
        }
    }
}

/// A listener whose connections arrive with their TLS handshake done.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (sender, ready) = mpsc::channel(64);
        let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let per_address = Arc::new(std::sync::Mutex::new(HashMap::new()));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(held) = Handshaking::start(&per_address, peer.ip()) else {
                    tracing::debug!(%peer, "too many handshakes from one address; connection closed");
                    continue;
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    drop((slot, held));
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (it never does while the runtime runs): wait forever, as a
            // listener with no more connections would.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
