//! Webhook rules without I/O: which URLs and addresses an endpoint may point at (SSRF
//! policy), and the signature receivers check.
//!
//! The URL is checked when an endpoint is registered or changed (scheme, host syntax, IP
//! literals) and again at every delivery, where every address the host resolves to must
//! pass [`check_ip`] before a connection is made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2_048;

/// What a deployment lets webhooks reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// `https://` to public addresses only.
    Production,
    /// Also loopback (`127.0.0.0/8`, `::1`, `localhost`), over `http://` or `https://`, so
    /// developers and tests can run a receiver on their machine. Still no other private
    /// network.
    Development,
}

impl UrlPolicy {
    fn allows_loopback(self) -> bool {
        self == UrlPolicy::Development
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// Lowercased, without a trailing dot.
    Name(String),
}

/// A URL that passed [`check_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
}

/// Checks a webhook URL against `policy`; the error is a message for the `url` field.
pub fn check_url(url: &str, policy: UrlPolicy) -> Result<Target, String> {
    if url.is_empty() {
        return Err("must not be empty".into());
    }
    if url.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be ASCII without spaces (write international names in punycode)".into());
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
        _ => return Err("must be an https:// URL".into()),
    };
    if scheme == Scheme::Http && !policy.allows_loopback() {
        return Err("must be an https:// URL".into());
    }
    if url.contains('#') {
        return Err("must not have a #fragment".into());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials (user:password@)".into());
    }
    if authority.contains('\\') {
        return Err("has an invalid host".into());
    }
    let (host_text, port_text) = split_host_port(authority)?;
    let port = match port_text {
        None => match scheme {
            Scheme::Https => 443,
            Scheme::Http => 80,
        },
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 && p.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => return Err("has an invalid port".into()),
        },
    };
    let host = parse_host(host_text)?;

    let loopback = match &host {
        Host::Ip(ip) => {
            check_ip(*ip, policy).map_err(|class| format!("must not point at {class}"))?;
            ip.to_canonical().is_loopback()
        }
        Host::Name(name) if is_localhost(name) => {
            if !policy.allows_loopback() {
                return Err("must not point at this machine (localhost)".into());
            }
            true
        }
        Host::Name(_) => false,
    };
    if scheme == Scheme::Http && !loopback {
        return Err("must be an https:// URL (http:// is allowed to loopback only)".into());
    }
    Ok(Target { scheme, host, port })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (ip, after) = inner.split_once(']').ok_or("has an invalid IPv6 address")?;
        return match after {
            "" => Ok((ip, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((ip, Some(port))),
                None => Err("has an invalid host".into()),
            },
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn parse_host(text: &str) -> Result<Host, String> {
    if text.is_empty() {
        return Err("has no host".into());
    }
    if let Ok(v6) = text.parse::<Ipv6Addr>() {
        return Ok(Host::Ip(IpAddr::V6(v6)));
    }
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let valid_label = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253 || !labels.iter().all(valid_label) {
        return Err("has an invalid host name".into());
    }
    // A top-level domain starts with a letter. This refuses the numeric spellings resolvers
    // take as addresses ("127.1", "2130706433", "0x7f.0.0.1") which `check_ip` never sees
    // at registration.
    let tld = labels.last().copied().unwrap_or("");
    if !tld.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("has an invalid host name".into());
    }
    if labels.len() < 2 && !is_localhost(&name) {
        return Err("must name a host by its full domain name".into());
    }
    Ok(Host::Name(name))
}

fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether a webhook may connect to `ip` under `policy`; the error names the kind of address
/// refused ("a private network address").
pub fn check_ip(ip: IpAddr, policy: UrlPolicy) -> Result<(), &'static str> {
    match special_use(ip) {
        None => Ok(()),
        Some(LOOPBACK) if policy.allows_loopback() => Ok(()),
        Some(class) => Err(class),
    }
}

const LOOPBACK: &str = "a loopback address";
const PRIVATE: &str = "a private network address";
const LINK_LOCAL: &str = "a link-local address";
const MULTICAST: &str = "a multicast address";
const UNSPECIFIED: &str = "an unspecified address";
const RESERVED: &str = "a reserved or non-public address";

/// The kind of special-use address `ip` is, or `None` for a public unicast address.
/// IPv4 addresses carried inside IPv6 (mapped, NAT64, 6to4) are judged as IPv4.
fn special_use(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_use_v4(v4),
        IpAddr::V6(v6) => special_use_v6(v6),
    }
}

fn special_use_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some(UNSPECIFIED),
        (127, _, _) => Some(LOOPBACK),
        (10, _, _) => Some(PRIVATE),
        (172, 16..=31, _) => Some(PRIVATE),
        (192, 168, _) => Some(PRIVATE),
        // Carrier-grade NAT (shared address space).
        (100, 64..=127, _) => Some(PRIVATE),
        (169, 254, _) => Some(LINK_LOCAL),
        (224..=239, _, _) => Some(MULTICAST),
        // Reserved, and the limited broadcast address.
        (240..=255, _, _) => Some(RESERVED),
        // IETF protocol assignments, documentation, 6to4 relay, benchmarking.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => {
            Some(RESERVED)
        }
        (198, 18..=19, _) => Some(RESERVED),
        _ => None,
    }
}

fn special_use_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_use_v4(v4);
    }
    if ip.is_unspecified() {
        return Some(UNSPECIFIED);
    }
    if ip.is_loopback() {
        return Some(LOOPBACK);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64 well-known prefix 64:ff9b::/96 reaches the IPv4 address in its low 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return special_use_v4(embedded(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return special_use_v4(embedded(s[1], s[2]));
    }
    match s[0] {
        0xfc00..=0xfdff => Some(PRIVATE),
        0xfe80..=0xfebf => Some(LINK_LOCAL),
        0xff00..=0xffff => Some(MULTICAST),
        // IETF protocol assignments (Teredo, ORCHID...) and documentation.
        0x2001 if s[1] < 0x0200 || s[1] == 0x0db8 => Some(RESERVED),
        // Only global unicast (2000::/3) is public; everything else is special-use.
        0x2000..=0x3fff => None,
        _ => Some(RESERVED),
    }
}

/// `X-Techx-Signature`: `sha256=` and the lowercase hex HMAC-SHA256, keyed with the
/// endpoint's secret (its UTF-8 bytes, as shown at registration), of `{timestamp}.{body}`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", crate::auth::secret::hex(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use UrlPolicy::{Development as Dev, Production as Prod};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_https_urls_pass_everywhere() {
        for url in [
            "https://hooks.example.vn/techx",
            "https://HOOKS.Example.VN:8443/a/b?x=1&y=2",
            "https://api.example.com./webhook",
            "https://93.184.216.34/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://xn--sn-giao-dch-cng-ngh-xyz.vn/hook",
        ] {
            for policy in [Prod, Dev] {
                assert!(
                    check_url(url, policy).is_ok(),
                    "{url} {policy:?}: {:?}",
                    check_url(url, policy)
                );
            }
        }
        let t = check_url("https://HOOKS.Example.VN:8443/x", Prod).unwrap();
        assert_eq!(
            t,
            Target {
                scheme: Scheme::Https,
                host: Host::Name("hooks.example.vn".into()),
                port: 8443
            }
        );
        assert_eq!(check_url("http://127.0.0.1/x", Dev).unwrap().port, 80);
        assert_eq!(check_url("https://[::1]/x", Dev).unwrap().port, 443);
    }

    #[test]
    fn production_is_https_only_and_never_local() {
        for url in [
            "http://hooks.example.vn/techx",
            "http://127.0.0.1:8080/hook",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://app.localhost/hook",
            "https://[::1]/hook",
            "ftp://hooks.example.vn/",
            "hooks.example.vn/techx",
        ] {
            assert!(check_url(url, Prod).is_err(), "{url} accepted in production");
        }
        assert_eq!(
            check_url("http://hooks.example.vn/", Prod).unwrap_err(),
            "must be an https:// URL"
        );
    }

    #[test]
    fn development_allows_http_to_loopback_only() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.0.0.2/hook",
            "http://localhost:3000/hook",
            "http://[::1]:9000/hook",
            "https://localhost/hook",
        ] {
            assert!(check_url(url, Dev).is_ok(), "{url}: {:?}", check_url(url, Dev));
        }
        for url in
            ["http://hooks.example.vn/techx", "http://10.0.0.1/hook", "http://93.184.216.34/"]
        {
            assert!(check_url(url, Dev).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn private_and_special_addresses_are_refused_in_every_environment() {
        for host in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.10",
            "198.18.0.1",
            "[fc00::1]",
            "[fd12:3456::1]",
            "[fe80::1]",
            "[ff02::1]",
            "[::]",
            "[::ffff:10.0.0.1]",
            "[::ffff:169.254.169.254]",
            "[64:ff9b::a00:1]",
            "[2002:a00:1::]",
            "[2001:db8::1]",
            "[::10.0.0.1]",
        ] {
            let url = format!("https://{host}/hook");
            for policy in [Prod, Dev] {
                let e = check_url(&url, policy).unwrap_err();
                assert!(e.starts_with("must not point at"), "{url} {policy:?}: {e}");
            }
        }
        assert_eq!(
            check_url("https://10.1.2.3/", Prod).unwrap_err(),
            "must not point at a private network address"
        );
        assert_eq!(
            check_url("https://169.254.169.254/latest/meta-data", Dev).unwrap_err(),
            "must not point at a link-local address"
        );
    }

    #[test]
    fn public_neighbours_of_private_ranges_pass() {
        for addr in [
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "11.0.0.1",
            "192.169.0.1",
            "8.8.8.8",
            "2606:4700::1",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(check_ip(ip(addr), Prod), Ok(()), "{addr}");
        }
    }

    #[test]
    fn loopback_addresses_pass_only_in_development() {
        for addr in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(check_ip(ip(addr), Prod), Err(LOOPBACK), "{addr}");
            assert_eq!(check_ip(ip(addr), Dev), Ok(()), "{addr}");
        }
        assert_eq!(check_ip(ip("10.0.0.1"), Dev), Err(PRIVATE));
    }

    #[test]
    fn tricky_spellings_are_refused() {
        for url in [
            "https://2130706433/",            // 127.0.0.1 as one number
            "https://127.1/",                 // inet_aton short form
            "https://0x7f.0.0.1/",            // hexadecimal octet
            "https://0177.0.0.1/",            // octal octet
            "https://evil.example@10.0.0.1/", // credentials hiding the host
            "https://user:pw@hooks.example.vn/",
            "https://hooks.example.vn\\@10.0.0.1/",
            "https://[fe80::1%25eth0]/", // zone id
            "https://hooks.example.vn:0/",
            "https://hooks.example.vn:99999/",
            "https://hooks.example.vn:80a/",
            "https:///path",
            "https://-bad-.example.vn/",
            "https://under_score.example.vn/",
            "https://intranet/", // a single label resolves by search domain
            "https://hooks.example.vn/a b",
            "https://hooks.example.vn/#frag",
            "https://sàn.vn/",
            "",
        ] {
            for policy in [Prod, Dev] {
                assert!(check_url(url, policy).is_err(), "{url:?} accepted under {policy:?}");
            }
        }
        let long = format!("https://hooks.example.vn/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, Prod).unwrap_err().contains("at most"));
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // Computed with Python: hmac.new(b"whsec_test", b'1700000000.{"a":1}', sha256).
        let sig = signature("whsec_test", 1_700_000_000, "{\"a\":1}");
        assert_eq!(sig, "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
        assert_ne!(signature("whsec_test", 1_700_000_001, "{\"a\":1}"), sig, "timestamp signed");
        assert_ne!(signature("whsec_other", 1_700_000_000, "{\"a\":1}"), sig, "key used");
        assert_ne!(signature("whsec_test", 1_700_000_000, "{\"a\":2}"), sig, "body signed");
    }
}
