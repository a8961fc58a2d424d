use std::fmt;

use crate::{string_type, Error};

/// A forge repository, `owner/name`.
///
/// The rule: exactly one `/`; owner and name are each 1 to 100 of `A-Z a-z 0-9 . _ -`, and neither is `.`
/// nor `..`. Case is kept as given (GitHub's `ViktorBarzin/app` is not Forgejo's `viktor/app`); registries
/// want lower case, which [`crate::ImageName::from_repo`] applies.
///
/// ```
/// let repo: offinfra_types::RepoName = "viktor/app".parse().unwrap();
/// assert_eq!((repo.owner(), repo.name()), ("viktor", "app"));
/// assert!("viktor".parse::<offinfra_types::RepoName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct RepoName {
    full: String,
    slash: usize,
}

impl RepoName {
    /// Parses `owner/name`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let valid_part = |part: &str| {
            (1..=100).contains(&part.len())
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {
                Ok(Self { full: s.to_owned(), slash: owner.len() })
            }
            _ => Err(Error::Repo(s.to_owned())),
        }
    }

    /// The repository a git remote URL names: its last two path components, without `.git`
    /// (`https://host/owner/name.git`, `git@host:owner/name.git`, `ssh://git@host:22/owner/name`).
    ///
    /// ```
    /// let repo = offinfra_types::RepoName::from_remote_url("git@github.com:ViktorBarzin/app.git").unwrap();
    /// assert_eq!(repo.as_str(), "ViktorBarzin/app");
    /// ```
    pub fn from_remote_url(url: &str) -> Result<Self, Error> {
        let path = url.trim_end_matches('/').trim_end_matches(".git");
        let mut parts = path.rsplit(['/', ':']);
        match (parts.next(), parts.next()) {
            (Some(name), Some(owner)) => {
                Self::parse(&format!("{owner}/{name}")).map_err(|_| Error::Repo(url.to_owned()))
            }
            _ => Err(Error::Repo(url.to_owned())),
        }
    }

    /// The owner (user or organisation).
    pub fn owner(&self) -> &str {
        &self.full[..self.slash]
    }

    /// The repository's name within its owner.
    pub fn name(&self) -> &str {
        &self.full[self.slash + 1..]
    }

    /// `owner/name`.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

string_type!(RepoName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_slash_name_and_nothing_else() {
        let repo = RepoName::parse("ViktorBarzin/app.v2_x-y").unwrap();
        assert_eq!(
            (repo.owner(), repo.name(), repo.as_str()),
            ("ViktorBarzin", "app.v2_x-y", "ViktorBarzin/app.v2_x-y")
        );
        for bad in [
            "",
            "app",
            "/app",
            "owner/",
            "a/b/c",
            "o/..",
            "./n",
            "o w/n",
            "o/n?x",
            "ö/n",
            &format!("o/{}", "n".repeat(101)),
        ] {
            assert_eq!(RepoName::parse(bad), Err(Error::Repo(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(Error::Repo("app".into()).to_string(), "repository \"app\": expected owner/name");
    }

    #[test]
    fn remote_urls_name_their_repository() {
        for url in [
            "https://git.example.com/viktor/app.git",
            "https://git.example.com/viktor/app/",
            "git@git.example.com:viktor/app.git",
            "ssh://git@git.example.com:2222/viktor/app",
            "/srv/git/viktor/app.git",
        ] {
            assert_eq!(RepoName::from_remote_url(url).unwrap().as_str(), "viktor/app", "{url}");
        }
        for url in ["", "app", "https://host/", "git@host:"] {
            assert_eq!(RepoName::from_remote_url(url), Err(Error::Repo(url.to_owned())), "{url:?}");
        }
    }

    #[test]
    fn serialises_as_its_string() {
        let repo: RepoName = serde_json::from_str("\"viktor/app\"").unwrap();
        assert_eq!(serde_json::to_string(&repo).unwrap(), "\"viktor/app\"");
        assert!(serde_json::from_str::<RepoName>("\"viktor\"")
            .unwrap_err()
            .to_string()
            .contains("expected owner/name"));
    }
}
