//! Who is asking: the socket's peer, or, when that peer is a reverse proxy the operator
//! trusts (`INSECTID_TRUSTED_PROXIES`), the client that proxy names in `Forwarded` or
//! `X-Forwarded-For`. Rate limits, sign-in throttling and the audit log all read the
//! result, so a client cannot choose its own address by sending those headers directly.

use std::net::{IpAddr, SocketAddr};

use app::state::ClientIp;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// A set of addresses and CIDR ranges from the configuration: the reverse proxies whose
/// forwarding headers are believed (`INSECTID_TRUSTED_PROXIES`), or who may read the metrics
/// (`INSECTID_METRICS_FROM`).
#[derive(Debug, Clone, Default)]
pub struct AddressRanges(pub Vec<IpNet>);

impl std::str::FromStr for AddressRanges {
    type Err = String;

    /// A comma-separated list of addresses and CIDR ranges, e.g. `127.0.0.1,10.0.0.0/8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let nets = s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|part| {
            part.parse::<IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{part:?} is not an IP address or CIDR range"))
        });
        nets.collect::<Result<Vec<_>, _>>().map(AddressRanges)
    }
}

/// The header the trusted proxies write. Only that one is read: a proxy that appends to
/// `X-Forwarded-For` passes a client's own `Forwarded` header through untouched, and the
/// other way round, so reading both would let a client choose its address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

impl AddressRanges {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&canonical(ip)))
    }

    /// The client behind `peer`: walking the forwarding chain from the nearest hop back, the
    /// first address that is not a trusted proxy. A chain that cannot be read stops the walk
    /// at the last address that could be.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap, header: ForwardedHeader) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_chain(headers, header).into_iter().rev() {
            let Some(hop) = hop else { break };
            client = canonical(hop);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4 clients arriving over an IPv6 socket count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The addresses a proxy chain reports in `header`, first (the original client) to last;
/// `None` for an entry that is not an address (`unknown`, an obfuscated name).
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    let joined = values.join(",");
    if joined.is_empty() {
        return Vec::new();
    }
    match header {
        ForwardedHeader::Forwarded => {
            joined.split(',').map(|element| element.split(';').find_map(forwarded_for).flatten()).collect()
        }
        ForwardedHeader::XForwardedFor => joined.split(',').map(|a| parse_node(a.trim())).collect(),
    }
}

/// The `for=` parameter of one `Forwarded` element: Some(address) or Some(None) when it names
/// no address; None for other parameters.
fn forwarded_for(pair: &str) -> Option<Option<IpAddr>> {
    let (key, value) = pair.trim().split_once('=')?;
    key.trim().eq_ignore_ascii_case("for").then(|| parse_node(value.trim().trim_matches('"')))
}

/// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]` or `[2001:db8::1]:8080`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[').and_then(|rest| rest.split(']').next()).and_then(|inner| inner.parse().ok())
}

/// How clients are told apart, and whether the listener itself speaks TLS.
pub struct Resolver {
    pub proxies: AddressRanges,
    pub header: ForwardedHeader,
    pub tls_listener: bool,
}

/// Whether the request reached the client's end over HTTPS: the server's own TLS listener, or a
/// trusted proxy saying so (`X-Forwarded-Proto: https`, or `proto=https` in `Forwarded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverHttps(pub bool);

/// Puts the request's [`ClientIp`] and [`OverHttps`] in its extensions for everything after it.
pub async fn resolve(
    State(resolver): State<std::sync::Arc<Resolver>>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let Resolver { proxies, header, tls_listener } = &*resolver;
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let mut https = *tls_listener;
    if let Some(peer) = peer {
        warn_of_untrusted_proxy(proxies, peer, request.headers());
        let client = proxies.client(peer, request.headers(), *header);
        request.extensions_mut().insert(ClientIp(client));
        https |= proxies.trusts(peer) && forwarded_proto(request.headers(), *header).as_deref() == Some("https");
    }
    request.extensions_mut().insert(OverHttps(https));
    next.run(request).await
}

/// The scheme the nearest proxy says the client used: `X-Forwarded-Proto` beside
/// `X-Forwarded-For`, the last `proto=` of `Forwarded`. The nearest hop's word is the one a
/// trusted proxy wrote.
fn forwarded_proto(headers: &HeaderMap, header: ForwardedHeader) -> Option<String> {
    let last = |name: &str| {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        values.join(",").rsplit(',').next().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    };
    match header {
        ForwardedHeader::XForwardedFor => last("x-forwarded-proto").map(|p| p.to_ascii_lowercase()),
        ForwardedHeader::Forwarded => last("forwarded").and_then(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim().eq_ignore_ascii_case("proto").then(|| value.trim().trim_matches('"').to_ascii_lowercase())
            })
        }),
    }
}

/// A loopback or private peer sending forwarding headers is most likely a reverse proxy the
/// operator forgot to name: then every visitor shares the proxy's address (and its limits).
/// Said once in the log.
fn warn_of_untrusted_proxy(proxies: &AddressRanges, peer: IpAddr, headers: &HeaderMap) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let local = match canonical(peer) {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    };
    let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    if local && forwarded && !proxies.trusts(peer) && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(%peer, "forwarding headers from an untrusted local peer: if it is your reverse proxy, set INSECTID_TRUSTED_PROXIES, or every visitor shares its address and its rate limits");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_scheme_is_the_nearest_proxys_word() {
        let xfp = headers(&[("x-forwarded-proto", "http, HTTPS")]);
        assert_eq!(forwarded_proto(&xfp, XFF).as_deref(), Some("https"));
        let rfc = headers(&[("forwarded", "for=1.2.3.4;proto=http, for=10.0.0.1;proto=https")]);
        assert_eq!(forwarded_proto(&rfc, ForwardedHeader::Forwarded).as_deref(), Some("https"));
        assert_eq!(forwarded_proto(&rfc, XFF), None, "only the configured header is read");
        assert_eq!(forwarded_proto(&headers(&[]), XFF), None);
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_trusted_proxies() {
        let proxies: AddressRanges = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client(ip("198.51.100.7"), &spoofed, XFF), ip("198.51.100.7"), "a client naming itself");
        assert_eq!(proxies.client(ip("127.0.0.1"), &spoofed, XFF), ip("203.0.113.9"));
        // A client prepending a fake address: the proxy appends the real one, which wins.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &chain, XFF), ip("203.0.113.9"));
        let rfc = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=10.2.2.2")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &rfc, ForwardedHeader::Forwarded), ip("2001:db8::7"));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &unknown, ForwardedHeader::Forwarded),
            ip("127.0.0.1"),
            "nothing readable: the proxy itself"
        );
        assert_eq!(
            AddressRanges::default().client(ip("127.0.0.1"), &spoofed, XFF),
            ip("127.0.0.1"),
            "none trusted by default"
        );
        assert!("10.0.0.0/33".parse::<AddressRanges>().is_err());
        // Behind a proxy that appends to X-Forwarded-For, a client's own Forwarded is ignored.
        let both = headers(&[("forwarded", "for=1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &both, XFF), ip("203.0.113.9"));
    }
}
