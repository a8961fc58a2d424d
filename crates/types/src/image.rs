use std::fmt;

use oci_spec::distribution::Reference;

use crate::{string_type, Error, RepoName, Tag};

/// Docker Hub's name in references, and the host its API answers on.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

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
        let reference = Reference::try_from(name).map_err(|_| bad())?;
        if !is_host(host) || reference.registry() != host {
            return Err(bad());
        }
        Ok(Self { registry: host.to_owned(), repository: reference.repository().to_owned() })
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
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef { name: self.clone(), tag: None, digest: Some(digest.to_owned()) }
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
/// assert!(pinned.reference().starts_with("sha256:"));
/// let hub: ImageRef = "nginx".parse().unwrap();
/// assert_eq!((hub.api_host(), hub.name().repository(), hub.reference()), ("registry-1.docker.io", "library/nginx", "latest"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    name: ImageName,
    tag: Option<Tag>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let reference =
            Reference::try_from(s).map_err(|e| Error::ImageRef { input: s.to_owned(), reason: e.to_string() })?;
        let tag = match reference.tag() {
            Some(tag) => {
                Some(Tag::parse(tag).map_err(|e| Error::ImageRef { input: s.to_owned(), reason: e.to_string() })?)
            }
            None => None,
        };
        let name =
            ImageName { registry: reference.registry().to_owned(), repository: reference.repository().to_owned() };
        Ok(Self { name, tag, digest: reference.digest().map(str::to_owned) })
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
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What a manifest is fetched by: the digest when there is one, else the tag.
    pub fn reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest,
            (None, Some(tag)) => tag.as_str(),
            (None, None) => "latest",
        }
    }

    /// The host the registry's API answers on (Docker Hub's is not `docker.io`).
    pub fn api_host(&self) -> &str {
        match self.name.registry() {
            DOCKER_HUB => DOCKER_HUB_API,
            host => host,
        }
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
            assert_eq!(r.digest(), digest);
            assert_eq!(r.api_host(), host);
        }
        let by_digest = ImageRef::parse(&format!("ghcr.io/acme/app@{DIGEST}")).unwrap();
        assert_eq!((by_digest.tag(), by_digest.reference()), (None, DIGEST));
        let both = ImageRef::parse(&format!("ghcr.io/acme/app:1.2@{DIGEST}")).unwrap();
        assert_eq!((both.tag().map(Tag::as_str), both.reference()), (Some("1.2"), DIGEST));
        assert_eq!(both.to_string(), format!("ghcr.io/acme/app:1.2@{DIGEST}"));
        assert_eq!(both.name().to_string(), "ghcr.io/acme/app");
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
