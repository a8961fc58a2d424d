use std::fmt;

use crate::{string_type, Digest, Error, Reference, RepoName, Tag};

/// Docker Hub's name in references, and the host its API answers on.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The distribution reference grammar, checked by hand: oci-spec's `Reference` parses with a regex whose
/// Unicode `\w{0,127}` compiles to ~14 MiB of automaton on first use, more than a whole image push needs.
/// Returns `(registry, repository, tag, digest)` with docker's defaults (`docker.io`, `library/`).
fn parse_reference(s: &str) -> Result<(String, String, Option<String>, Option<String>), String> {
    if s.is_empty() {
        return Err("repository name must have at least one component".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(check_digest(digest)?)),
        None => (s, None),
    };
    let (name, tag, _) = split_written(rest);
    if let Some(tag) = tag {
        Tag::parse(tag).map_err(|_| "invalid tag format".to_owned())?;
    }
    let (first, remainder) = match name.split_once('/') {
        Some((first, remainder)) if is_host(first) => (Some(first), remainder),
        _ => (None, name),
    };
    if let Some(host) = first {
        check_host(host)?;
    }
    for component in remainder.split('/') {
        check_path_component(component)?;
    }
    let (registry, repository) = match first {
        Some("index.docker.io") | None => {
            let repository =
                if remainder.contains('/') { remainder.to_owned() } else { format!("library/{remainder}") };
            ("docker.io".to_owned(), repository)
        }
        Some(host) => (host.to_owned(), remainder.to_owned()),
    };
    if repository.len() > 255 {
        return Err("repository name must not be more than 255 characters".into());
    }
    let tag = match (tag, &digest) {
        (Some(tag), _) => Some(tag.to_owned()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_owned()),
    };
    Ok((registry, repository, tag, digest))
}

/// `host[:port]`: dot-separated labels of letters, digits and inner `-`, then an optional numeric port.
fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.split('.').all(label_ok) || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err("invalid reference format".into());
    }
    Ok(())
}

/// A path component: lower-case letters and digits, separated inside by `.`, `_`, `__` or `-`s.
fn check_path_component(component: &str) -> Result<(), String> {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository name must be lowercase".into());
    }
    let ok = !bytes.is_empty() && alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]) && {
        let mut i = 0;
        let mut fine = true;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            // A separator: `.`, `_`, `__`, or a run of `-`, always between two alphanumerics.
            let start = i;
            match bytes[i] {
                b'.' => i += 1,
                b'_' => i += if bytes.get(i + 1) == Some(&b'_') { 2 } else { 1 },
                b'-' => {
                    while bytes.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                _ => {
                    fine = false;
                    break;
                }
            }
            if start == 0 || !bytes.get(i).copied().is_some_and(alnum) {
                fine = false;
                break;
            }
        }
        fine
    };
    if ok {
        Ok(())
    } else {
        Err("invalid reference format".into())
    }
}

/// The digest rule ([`crate::Digest`]'s), with the digest back.
fn check_digest(digest: &str) -> Result<String, String> {
    crate::digest::check(digest).map(|()| digest.to_owned())
}

/// Whether the first component of a name is a registry host, by docker's rule: it has a `.` or a `:`
/// (a port), or it is `localhost`.
fn is_host(component: &str) -> bool {
    component.contains(['.', ':']) || component == "localhost"
}

/// `(name, tag, digest)` as written: the tag is what follows the last `:` after the last `/`.
fn split_written(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(colon) => (&rest[..last_slash + colon], Some(&rest[last_slash + colon + 1..]), digest),
        None => (rest, None, digest),
    }
}

/// An image repository with its registry: `ghcr.io/owner/app`, `127.0.0.1:5000/app`.
///
/// The rule: the distribution reference grammar (lower-case path components separated by `/`, `.`, `_`
/// and `-` inside them), a registry host written out (it has a `.` or a port, or is `localhost`: nothing
/// is pushed to Docker Hub by default) and neither tag nor digest.
///
/// ```
/// use offinfra_types::{ImageName, Tag};
///
/// let image: ImageName = "ghcr.io/viktorbarzin/app".parse().unwrap();
/// assert_eq!((image.registry(), image.repository()), ("ghcr.io", "viktorbarzin/app"));
/// assert_eq!(image.with_tag(&Tag::parse("latest").unwrap()).to_string(), "ghcr.io/viktorbarzin/app:latest");
/// for bad in ["app", "viktorbarzin/app", "ghcr.io/ViktorBarzin/app", "ghcr.io/app:1"] {
///     assert!(bad.parse::<ImageName>().is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ImageName {
    registry: String,
    repository: String,
}

impl ImageName {
    /// Parses `registry/path`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::ImageName(s.to_owned());
        let (name, tag, digest) = split_written(s);
        if tag.is_some() || digest.is_some() {
            return Err(bad());
        }
        let (host, _) = name.split_once('/').ok_or_else(bad)?;
        let (registry, repository, _, _) = parse_reference(name).map_err(|_| bad())?;
        if !is_host(host) || registry != host {
            return Err(bad());
        }
        Ok(Self { registry, repository })
    }

    /// The image of a forge repository in `registry`, lower-cased as registries require
    /// (`ViktorBarzin/app` in `ghcr.io` is `ghcr.io/viktorbarzin/app`).
    pub fn from_repo(registry: &str, repo: &RepoName) -> Result<Self, Error> {
        Self::parse(&format!("{registry}/{}", repo.as_str().to_ascii_lowercase()))
    }

    /// The registry host, with its port when it has one.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path in the registry (`owner/app`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `name:tag`.
    pub fn with_tag(&self, tag: &Tag) -> ImageRef {
        ImageRef { name: self.clone(), tag: Some(tag.clone()), digest: None }
    }

    /// `name@digest`.
    pub fn with_digest(&self, digest: &Digest) -> ImageRef {
        ImageRef { name: self.clone(), tag: None, digest: Some(digest.clone()) }
    }

    /// `name:tag` or `name@digest`.
    pub fn with_reference(&self, reference: &Reference) -> ImageRef {
        match reference {
            Reference::Tag(tag) => self.with_tag(tag),
            Reference::Digest(digest) => self.with_digest(digest),
        }
    }

    /// The host the registry's API answers on: the registry, except Docker Hub's (`docker.io` answers on
    /// `registry-1.docker.io`). No caller picks the host by hand.
    ///
    /// ```
    /// let hub: offinfra_types::ImageName = "docker.io/library/nginx".parse()?;
    /// assert_eq!(hub.api_host(), "registry-1.docker.io");
    /// let ghcr: offinfra_types::ImageName = "ghcr.io/acme/app".parse()?;
    /// assert_eq!(ghcr.api_host(), "ghcr.io");
    /// # Ok::<(), offinfra_types::Error>(())
    /// ```
    pub fn api_host(&self) -> &str {
        match self.registry.as_str() {
            DOCKER_HUB => DOCKER_HUB_API,
            host => host,
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

string_type!(ImageName);

/// An image reference, as docker reads one: `name[:tag][@digest]`.
///
/// The rule: the distribution reference grammar, with docker's defaults: a name without a registry host is
/// on Docker Hub (`nginx` is `docker.io/library/nginx`), and a reference with neither tag nor digest means
/// `:latest`. `name:tag@digest` keeps both; the digest is what the image is pulled by.
///
/// ```
/// use offinfra_types::ImageRef;
///
/// let pinned: ImageRef = "ghcr.io/acme/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
///     .parse()
///     .unwrap();
/// assert_eq!(pinned.tag().map(|t| t.as_str()), Some("1.2"));
/// assert!(pinned.reference().as_str().starts_with("sha256:"));
/// let hub: ImageRef = "nginx".parse().unwrap();
/// assert_eq!((hub.api_host(), hub.name().repository(), hub.reference().as_str()), ("registry-1.docker.io", "library/nginx", "latest"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ImageRef {
    name: ImageName,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses a reference.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::ImageRef { input: s.to_owned(), reason };
        let (registry, repository, tag, digest) = parse_reference(s).map_err(bad)?;
        let tag = tag.map(|t| Tag::parse(&t)).transpose().map_err(|e| bad(e.to_string()))?;
        let digest = digest.map(|d| Digest::parse(&d)).transpose().map_err(|e| bad(e.to_string()))?;
        Ok(Self { name: ImageName { registry, repository }, tag, digest })
    }

    /// The image repository.
    pub fn name(&self) -> &ImageName {
        &self.name
    }

    /// The tag, when one was given (or implied: `latest` when neither tag nor digest was).
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    /// The digest (`sha256:…`), when one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What a manifest is fetched by: the digest when there is one, else the tag (`latest` when neither
    /// was given).
    pub fn reference(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => Reference::Digest(digest.clone()),
            (None, Some(tag)) => Reference::Tag(tag.clone()),
            (None, None) => Reference::Tag(Tag::parse("latest").expect("latest is a tag")),
        }
    }

    /// The same reference as oci-spec's [`oci_spec::distribution::Reference`], for crates that take one.
    pub fn to_reference(&self) -> oci_spec::distribution::Reference {
        use oci_spec::distribution::Reference as Oci;
        let (registry, repository) = (self.name.registry.clone(), self.name.repository.clone());
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => {
                Oci::with_tag_and_digest(registry, repository, tag.to_string(), digest.to_string())
            }
            (None, Some(digest)) => Oci::with_digest(registry, repository, digest.to_string()),
            (tag, None) => {
                Oci::with_tag(registry, repository, tag.as_ref().map_or("latest".to_owned(), Tag::to_string))
            }
        }
    }

    /// The host the registry's API answers on (Docker Hub's is not `docker.io`).
    pub fn api_host(&self) -> &str {
        self.name.api_host()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

string_type!(ImageRef);

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn names_need_a_registry_and_no_tag() {
        for (good, registry, repository) in [
            ("ghcr.io/acme/app", "ghcr.io", "acme/app"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app"),
            ("localhost/a/b/c", "localhost", "a/b/c"),
            ("registry.lan:5050/infra/ci-image_x.y", "registry.lan:5050", "infra/ci-image_x.y"),
        ] {
            let name = ImageName::parse(good).unwrap();
            assert_eq!((name.registry(), name.repository(), name.to_string().as_str()), (registry, repository, good));
        }
        for bad in [
            "",
            "app",
            "acme/app",
            "ghcr.io",
            "ghcr.io/",
            "ghcr.io/Acme/app",
            "ghcr.io/acme/app:1",
            "ghcr.io/acme/app@sha256:00",
            "ghcr.io//app",
            "ghcr.io/acme/app/",
            "ghcr.io/-app",
        ] {
            assert_eq!(ImageName::parse(bad), Err(Error::ImageName(bad.to_owned())), "{bad:?}");
        }
        let repo = RepoName::parse("ViktorBarzin/App").unwrap();
        assert_eq!(ImageName::from_repo("ghcr.io", &repo).unwrap().to_string(), "ghcr.io/viktorbarzin/app");
    }

    #[test]
    fn references_read_as_docker_reads_them() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest", Some("latest"), None, "registry-1.docker.io"),
            ("acme/app:1", "docker.io/acme/app:1", Some("1"), None, "registry-1.docker.io"),
            (
                "127.0.0.1:5000/acme/app:0123abcd",
                "127.0.0.1:5000/acme/app:0123abcd",
                Some("0123abcd"),
                None,
                "127.0.0.1:5000",
            ),
            ("localhost:5000/app", "localhost:5000/app:latest", Some("latest"), None, "localhost:5000"),
        ];
        for (input, shown, tag, digest, host) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(r.to_string(), shown);
            assert_eq!(r.tag().map(Tag::as_str), tag);
            assert_eq!(r.digest().map(Digest::as_str), digest);
            assert_eq!(r.api_host(), host);
        }
        let by_digest = ImageRef::parse(&format!("ghcr.io/acme/app@{DIGEST}")).unwrap();
        assert_eq!((by_digest.tag(), by_digest.reference().as_str()), (None, DIGEST));
        let both = ImageRef::parse(&format!("ghcr.io/acme/app:1.2@{DIGEST}")).unwrap();
        assert_eq!((both.tag().map(Tag::as_str), both.reference().as_str()), (Some("1.2"), DIGEST));
        assert_eq!(both.to_string(), format!("ghcr.io/acme/app:1.2@{DIGEST}"));
        assert_eq!(both.name().to_string(), "ghcr.io/acme/app");
    }

    #[test]
    fn the_hand_parser_agrees_with_oci_specs_regex() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let inputs = [
            "nginx".to_owned(),
            "acme/app:1".into(),
            "ghcr.io/acme/app".into(),
            "127.0.0.1:5000/acme/app:0123abcd".into(),
            "localhost:5000/app".into(),
            "localhost/a/b/c".into(),
            "index.docker.io/nginx".into(),
            "registry.lan:5050/infra/ci-image_x.y".into(),
            "a__b/c--d/e.f_g".into(),
            format!("ghcr.io/acme/app@{digest}"),
            format!("ghcr.io/acme/app:1.2@{digest}"),
            "Nginx".into(),
            "app:".into(),
            "a b".into(),
            "ghcr.io/-app".into(),
            "ghcr.io//app".into(),
            "a___b".into(),
            "a_.b".into(),
            "-a".into(),
            "a-".into(),
            "host:port/app".into(),
            "ex-.com/app".into(),
            "app@sha256:00".into(),
            format!("app@md5:{}", "0".repeat(32)),
            "app:.x".into(),
        ];
        for input in &inputs {
            let ours = ImageRef::parse(input);
            match oci_spec::distribution::Reference::try_from(input.as_str()) {
                Ok(reference) => {
                    let ours = ours.unwrap_or_else(|e| panic!("{input:?}: oci-spec accepts, we refuse: {e}"));
                    assert_eq!(ours.name().registry(), reference.registry(), "{input:?}");
                    assert_eq!(ours.name().repository(), reference.repository(), "{input:?}");
                    assert_eq!(ours.tag().map(Tag::as_str), reference.tag(), "{input:?}");
                    assert_eq!(ours.digest().map(Digest::as_str), reference.digest(), "{input:?}");
                    assert_eq!(ours.to_reference().whole(), reference.whole(), "{input:?}");
                }
                Err(_) => assert!(ours.is_err(), "{input:?}: oci-spec refuses, we accept {ours:?}"),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        #[test]
        fn accepts_exactly_what_oci_spec_accepts(text in "[a-zA-Z0-9./:_@-]{1,40}") {
            let ours = ImageRef::parse(&text);
            match oci_spec::distribution::Reference::try_from(text.as_str()) {
                // oci-spec lets `A/0` through (an upper-case first component that is no host); docker
                // refuses it: "repository name must be lowercase". So do we.
                Ok(reference) if reference.repository().bytes().any(|b| b.is_ascii_uppercase()) => {
                    proptest::prop_assert!(ours.is_err(), "{:?} accepted: {:?}", text, ours)
                }
                Ok(reference) => {
                    let ours = ours.map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{text:?}: {e}")))?;
                    proptest::prop_assert_eq!(ours.to_reference().whole(), reference.whole());
                }
                Err(_) => proptest::prop_assert!(ours.is_err(), "{:?} accepted: {:?}", text, ours),
            }
        }
    }

    #[test]
    fn bad_references_name_the_input_and_the_reason() {
        for bad in ["", "Nginx", "app:", "app@sha256:00", "app@md5:0123456789abcdef0123456789abcdef", "a b"] {
            match ImageRef::parse(bad) {
                Err(Error::ImageRef { input, reason }) => assert!(input == bad && !reason.is_empty(), "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
