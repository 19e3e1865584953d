//! Per-address rate limits on the routes that cost the most per request: signing in and up
//! (an argon2 hash each) and uploading photos (decoding, a forward pass, disk). Over the
//! limit the answer is 429 with Retry-After. The address is the resolved client
//! ([`app::state::ClientIp`]); IPv6 clients count per /64, the block one host usually holds.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use app::state::ClientIp;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Addresses remembered before idle ones are forgotten (each costs a few dozen bytes).
const MAX_TRACKED: usize = 100_000;

/// A per-minute limit per key: a client address, or an API token.
pub struct RouteLimit<K: std::hash::Hash + Eq + Clone = IpAddr> {
    what: &'static str,
    limiter: DefaultKeyedRateLimiter<K>,
    /// When idle addresses were last forgotten (seconds since the limit was made).
    pruned_at: std::sync::atomic::AtomicU64,
    made: std::time::Instant,
}

impl<K: std::hash::Hash + Eq + Clone> RouteLimit<K> {
    /// `per_minute` requests a minute per key, all of them allowed in a burst; None (no
    /// limit) for 0.
    pub fn per_minute(what: &'static str, per_minute: u32) -> Option<Arc<Self>> {
        let n = NonZeroU32::new(per_minute)?;
        let limiter = RateLimiter::keyed(Quota::per_minute(n).allow_burst(n));
        Some(Arc::new(RouteLimit { what, limiter, pruned_at: Default::default(), made: std::time::Instant::now() }))
    }

    /// What the limit counts ("uploads"), for messages and metrics.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Ok, or how long this key must wait.
    pub fn check_key(&self, key: &K) -> Result<(), Duration> {
        // Forgetting idle addresses walks them all: at most once every 10 s, by one request.
        let now = self.made.elapsed().as_secs();
        let last = self.pruned_at.load(std::sync::atomic::Ordering::Relaxed);
        if now >= last + 10 && self.limiter.len() > MAX_TRACKED {
            let ours = self.pruned_at.compare_exchange(
                last,
                now,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            );
            if ours.is_ok() {
                self.limiter.retain_recent();
            }
        }
        self.limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

impl RouteLimit<IpAddr> {
    /// Ok, or how long this address must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check_key(&bucket(ip))
    }
}

/// The key an address counts under: an IPv6 client's /64, an IPv4 address itself.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Counts the request against `limit`: the refusal to send when over it. Requests without a
/// resolved client address (only tests that bypass the listener) are not counted.
pub fn admit(limit: &RouteLimit, request: &Request<Body>) -> Result<(), Box<Response>> {
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return Ok(());
    };
    limit.check(ip).map_err(|wait| {
        let seconds = wait.as_secs() + 1;
        metrics::counter!("insectid_rate_limited_total", "route" => limit.what).increment(1);
        let message = format!("too many {} from your address; try again in {seconds} seconds", limit.what);
        let mut response = (StatusCode::TOO_MANY_REQUESTS, message).into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        Box::new(response)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_its_burst_waits_and_others_do_not() {
        let limit = RouteLimit::per_minute("sign-ins", 3).unwrap();
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        assert!((0..3).all(|_| limit.check(a).is_ok()));
        let wait = limit.check(a).unwrap_err();
        assert!(wait > Duration::from_secs(10) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limit.check("198.51.100.2".parse().unwrap()).is_ok());
        assert!(RouteLimit::<IpAddr>::per_minute("off", 0).is_none());
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let limit = RouteLimit::per_minute("uploads", 1).unwrap();
        assert!(limit.check("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(limit.check("2001:db8:1:2::ffff".parse().unwrap()).is_err(), "same /64");
        assert!(limit.check("2001:db8:1:3::1".parse().unwrap()).is_ok(), "another /64");
    }
}
