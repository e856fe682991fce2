//! Where deliveries may go: `https` URLs whose host resolves only to public addresses.
//! The check runs when a subscription is saved and again at every connection (a
//! resolver that drops refused addresses), since DNS can change in between.
//! `WEBHOOKS_ALLOW_PRIVATE_URLS=true` (the local stack and tests only) allows `http`
//! and private addresses.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotHttps,
    NoHost,
    Unresolvable,
    Forbidden(IpAddr),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotHttps => f.write_str("Use an https URL"),
            Refusal::NoHost => f.write_str("Use an absolute URL with a host name"),
            Refusal::Unresolvable => f.write_str("The URL's host does not resolve"),
            Refusal::Forbidden(ip) => {
                write!(f, "The URL's host resolves to {ip}, a private, loopback, link-local or metadata address")
            }
        }
    }
}

/// Whether deliveries may reach `ip` on the public internet only.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
                // IETF protocol assignments, 192.0.0.0/24; benchmarking, 198.18.0.0/15.
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7, which holds the EC2 metadata address fd00:ec2::254).
                || (first & 0xfe00) == 0xfc00
                // Link-local, fe80::/10.
                || (first & 0xffc0) == 0xfe80
                // NAT64 and IPv4-compatible forms could reach private IPv4 addresses.
                || first == 0x0064
                || v6.segments()[..6].iter().all(|s| *s == 0)
        }
    }
}

/// Checks URLs and resolves hosts for deliveries.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allow_private: bool,
    /// Fixed answers for host names, checked before DNS (tests).
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl AddressGuard {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private, hosts: Arc::default() }
    }

    /// The same guard, answering `host` with `addresses` instead of asking DNS.
    pub fn with_host(mut self, host: &str, addresses: Vec<IpAddr>) -> Self {
        Arc::make_mut(&mut self.hosts).insert(host.to_ascii_lowercase(), addresses);
        self
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Every address `host` resolves to.
    async fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        if let Some(fixed) = self.hosts.get(&host.to_ascii_lowercase()) {
            return Ok(fixed.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        let found = tokio::net::lookup_host((host, port)).await.map_err(|_| Refusal::Unresolvable)?;
        Ok(found.collect())
    }

    /// The addresses of `host` deliveries may connect to: all of them, or, unless private
    /// addresses are allowed, a refusal if any is not public.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let addresses = self.lookup(host, port).await?;
        if addresses.is_empty() {
            return Err(Refusal::Unresolvable);
        }
        if !self.allow_private
            && let Some(bad) = addresses.iter().find(|a| is_forbidden(a.ip()))
        {
            return Err(Refusal::Forbidden(bad.ip()));
        }
        Ok(addresses)
    }

    /// Checks a subscription URL: its scheme and every address its host resolves to.
    pub async fn check(&self, url: &Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(Refusal::NotHttps),
        }
        let port = url.port_or_known_default().ok_or(Refusal::NoHost)?;
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(domain)) => self.resolve(domain, port).await.map(|_| ()),
            None => Err(Refusal::NoHost),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.allow_private && is_forbidden(ip) { Err(Refusal::Forbidden(ip)) } else { Ok(()) }
    }
}

/// The HTTP client's resolver: the guard's answer for every connection.
impl reqwest::dns::Resolve for AddressGuard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addresses =
                guard.resolve(name.as_str(), 0).await.map_err(|r| Box::new(std::io::Error::other(r.to_string())))?;
            let addrs: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refused(guard: &AddressGuard, url: &str) -> Option<Refusal> {
        guard.check(&Url::parse(url).unwrap()).await.err()
    }

    #[tokio::test]
    async fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        let guard = AddressGuard::new(false).with_host("internal.example", vec!["10.0.0.1".parse().unwrap()]);
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://192.168.1.10/",
            "https://internal.example/hook",
        ] {
            assert!(matches!(refused(&guard, url).await, Some(Refusal::Forbidden(_))), "{url}");
        }
        assert_eq!(refused(&guard, "http://169.254.169.254/").await, Some(Refusal::NotHttps));
    }

    #[tokio::test]
    async fn public_https_urls_pass_and_the_local_config_allows_private_ones() {
        let guard = AddressGuard::new(false).with_host("hooks.example", vec!["93.184.215.14".parse().unwrap()]);
        assert_eq!(refused(&guard, "https://hooks.example/in").await, None);
        let local = AddressGuard::new(true);
        assert_eq!(refused(&local, "http://127.0.0.1:8080/hook").await, None);
    }
}
