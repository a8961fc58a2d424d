//! Which hosts a credential may go to: one host rule ([`host_of`]) and one type ([`CredentialScope`]) for
//! every decision that hands a token to a host it did not come from (the GitHub token offered to ghcr.io
//! and the registries the user named, the Forgejo token to Forgejo's own registry, a webhook's server).

use secrecy::SecretString;

/// `host[:port]` of a URL (`https://Git.Example:443/x`) or of a bare host (`ghcr.io`, `127.0.0.1:5000`),
/// lower case, the port written only when it is not the scheme's default (a bare host is read as
/// `https://`). `None` when there is no host. The one rule every "is this the same host" question uses.
///
/// ```
/// use offinfra_http::scope::host_of;
/// assert_eq!(host_of("https://Git.Example.com:443/api/v1").as_deref(), Some("git.example.com"));
/// assert_eq!(host_of("http://woodpecker.svc:8000/api/hook?x=1").as_deref(), Some("woodpecker.svc:8000"));
/// assert_eq!(host_of("127.0.0.1:5000").as_deref(), Some("127.0.0.1:5000"));
/// assert_eq!(host_of("ghcr.io").as_deref(), Some("ghcr.io"));
/// assert_eq!(host_of("not a url"), None);
/// ```
pub fn host_of(text: &str) -> Option<String> {
    let text = text.trim();
    let parsed = match text.contains("://") {
        true => url::Url::parse(text),
        false => url::Url::parse(&format!("https://{text}")),
    }
    .ok()?;
    let host = parsed.host_str().filter(|h| !h.is_empty())?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// A secret and the hosts it may be sent to, each written down by [`host_of`]'s rule: a token is offered
/// to a host only when the scope names that host, never to whatever host a reference or a server names.
///
/// ```
/// use offinfra_http::scope::CredentialScope;
///
/// let scope = CredentialScope::new("gh-token".to_owned().into()).allow("ghcr.io").allow("https://registry.lan:5000/");
/// assert!(scope.secret_for("ghcr.io").is_some());
/// assert!(scope.secret_for("registry.lan:5000").is_some());
/// for other in ["ghcr.io.evil.example", "registry.lan:5001", "evil.example"] {
///     assert!(scope.secret_for(other).is_none(), "{other}");
/// }
/// assert!(!format!("{scope:?}").contains("gh-token"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CredentialScope {
    secret: SecretString,
    hosts: Vec<String>,
}

impl CredentialScope {
    /// `secret`, allowed to no host yet.
    pub fn new(secret: SecretString) -> Self {
        Self { secret, hosts: Vec::new() }
    }

    /// Also allows the host of `host_or_url` (nothing when it has none).
    pub fn allow(mut self, host_or_url: &str) -> Self {
        if let Some(host) = host_of(host_or_url) {
            if !self.hosts.contains(&host) {
                self.hosts.push(host);
            }
        }
        self
    }

    /// Whether the host of `host_or_url` is one the secret may go to.
    pub fn allows(&self, host_or_url: &str) -> bool {
        host_of(host_or_url).is_some_and(|host| self.hosts.contains(&host))
    }

    /// The secret, when the host of `host_or_url` may receive it and it is not empty.
    pub fn secret_for(&self, host_or_url: &str) -> Option<&SecretString> {
        use secrecy::ExposeSecret;
        (self.allows(host_or_url) && !self.secret.expose_secret().is_empty()).then_some(&self.secret)
    }

    /// The hosts allowed, in the order given.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

/// curl's `--resolve HOST:PORT:ADDR`: reach `host` on `port` at `address` instead of what DNS says. An IPv6
/// address is written in brackets (`git.example:443:[fd00::3]`).
///
/// ```
/// use offinfra_http::scope::Resolve;
/// let r: Resolve = "forgejo.viktorbarzin.me:443:10.0.20.203".parse().unwrap();
/// assert_eq!((r.host.as_str(), r.port, r.address.to_string().as_str()), ("forgejo.viktorbarzin.me", 443, "10.0.20.203"));
/// assert!("forgejo:443".parse::<Resolve>().is_err());
/// assert!("forgejo:https:10.0.0.1".parse::<Resolve>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// The name requests are for (and TLS checks).
    pub host: String,
    /// The port the override applies to.
    pub port: u16,
    /// Where the connection goes.
    pub address: std::net::IpAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?}: expected HOST:PORT:ADDRESS (curl's --resolve), {why}");
        let (host, rest) = text.split_once(':').ok_or_else(|| bad("no port"))?;
        let (port, address) = rest.split_once(':').ok_or_else(|| bad("no address"))?;
        let port = port.parse::<u16>().map_err(|_| bad("the port is not a number"))?;
        let address = address.trim_start_matches('[').trim_end_matches(']');
        let address = address.parse().map_err(|_| bad("the address is not an IP address"))?;
        if host.is_empty() || host_of(host).is_none() {
            return Err(bad("no host"));
        }
        Ok(Self { host: host.to_ascii_lowercase(), port, address })
    }
}
