//! The Host and Origin rules of the HTTP listener: rmcp applies them to `/mcp` (its matching
//! functions are private), these apply the same ones to `/api/v1` and to CORS answers, so
//! both protocols accept exactly the same peers. Hosts match by name, and by port when the
//! allowed entry has one; origins match by scheme, host and port, where `:*` allows any port,
//! an omitted port in the allowed entry any port, and a default port (`:80`, `:443`) equals
//! none in the request.

/// `host:port` or `host`, lower-cased, IPv6 brackets removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authority {
    host: String,
    port: Option<u16>,
}

fn normalize_host(host: &str) -> String {
    host.trim_matches('[')
        .trim_matches(']')
        .to_ascii_lowercase()
}

/// Parses a `Host` header value; `None` when malformed.
pub(crate) fn parse_host(value: &str) -> Option<Authority> {
    let a = http::uri::Authority::try_from(value.trim()).ok()?;
    Some(Authority {
        host: normalize_host(a.host()),
        port: a.port_u16(),
    })
}

/// Whether `host` is one of `allowed` (entries `name` or `name:port`).
pub(crate) fn host_allowed(host: &Authority, allowed: &[String]) -> bool {
    allowed.iter().filter_map(|a| parse_host(a)).any(|a| {
        a.host == host.host
            && match a.port {
                Some(port) => host.port == Some(port),
                None => true,
            }
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

fn parse_origin(value: &str) -> Option<Origin> {
    let uri = http::Uri::try_from(value.trim()).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    Some(Origin {
        scheme,
        host: normalize_host(authority.host()),
        port: authority.port_u16(),
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Whether the `Origin` header value `origin` matches an entry of `allowed`.
pub(crate) fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let Some(o) = parse_origin(origin) else {
        return false;
    };
    allowed.iter().any(|entry| {
        let (base, any_port) = match entry.trim().strip_suffix(":*") {
            Some(base) => (base, true),
            None => (entry.trim(), false),
        };
        let Some(a) = parse_origin(base) else {
            return false;
        };
        a.scheme == o.scheme
            && a.host == o.host
            && (any_port
                || match a.port {
                    None => true,
                    Some(p) => o.port.or_else(|| default_port(&o.scheme)) == Some(p),
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn origins_match_like_rmcp() {
        let allowed = list(&[
            "http://localhost:*",
            "http://[::1]:*",
            "https://app.example:443",
            "http://other.example",
        ]);
        assert!(origin_allowed("http://localhost:5173", &allowed));
        assert!(origin_allowed("http://LOCALHOST:1", &allowed));
        assert!(origin_allowed("http://[::1]", &allowed));
        assert!(
            origin_allowed("https://app.example", &allowed),
            "default port"
        );
        assert!(!origin_allowed("https://app.example:8443", &allowed));
        assert!(
            origin_allowed("http://other.example:9999", &allowed),
            "portless entry"
        );
        assert!(!origin_allowed("https://evil.example", &allowed));
        assert!(!origin_allowed("not a url", &allowed));
    }

    #[test]
    fn hosts_match_by_name_and_optional_port() {
        let allowed = list(&["localhost", "127.0.0.1", "[::1]", "api.example:8443"]);
        let ok = |h: &str| parse_host(h).is_some_and(|h| host_allowed(&h, &allowed));
        assert!(ok("localhost:8787") && ok("127.0.0.1") && ok("[::1]:1") && ok("API.example:8443"));
        assert!(!ok("api.example:8080") && !ok("evil.example") && !ok("bad host"));
    }
}
