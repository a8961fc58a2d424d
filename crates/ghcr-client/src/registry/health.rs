//! Health checks: image indexes whose children are gone, and a pull-through cache that answers.

use std::{collections::HashMap, time::Instant};

use offinfra_types::{ImageName, Tag};

use super::Registry;
use crate::Error;

/// An index whose child manifest is gone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Orphan {
    /// The tag that led to the index.
    pub tag: String,
    /// The index's digest.
    pub index: String,
    /// The missing child's digest.
    pub missing_child: String,
}

/// What the pull-through cache check found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CacheHealth {
    /// How long `GET /v2/` took, in milliseconds.
    pub ping_ms: u128,
    /// How long `GET /v2/_catalog` (all pages) took, in milliseconds.
    pub catalog_ms: u128,
    /// The repositories the cache holds.
    pub repositories: Vec<String>,
}

/// An orphan with the repository it was found in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RepositoryOrphan {
    /// The repository.
    pub repository: String,
    /// The tag that led to the index.
    pub tag: String,
    /// The index's digest.
    pub index: String,
    /// The missing child's digest.
    pub missing_child: String,
}

/// [`Registry::orphan_report`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct OrphanReport {
    /// The registry.
    pub host: String,
    /// How many repositories were checked.
    pub repositories: usize,
    /// Which, in order.
    #[serde(skip)]
    pub checked: Vec<String>,
    /// What was found.
    pub orphans: Vec<RepositoryOrphan>,
}

impl OrphanReport {
    /// `<host>: <n> repositories checked, <n> orphaned child manifest(s)`, then a line per orphan.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{}: {} repositories checked, {} orphaned child manifest(s)\n",
            self.host,
            self.repositories,
            self.orphans.len()
        );
        for o in &self.orphans {
            out += &format!("  {}:{} -> index {} is missing {}\n", o.repository, o.tag, o.index, o.missing_child);
        }
        out
    }
}

impl Registry {
    /// [`Self::find_orphans`] over `images` (every repository in the catalog when empty).
    pub async fn orphan_report(&self, images: &[ImageName], tags: Option<&[Tag]>) -> Result<OrphanReport, Error> {
        let repositories: Vec<String> = match images {
            // Names a server listed are held to the repository rule before they go into a path.
            [] => self
                .catalog()
                .await?
                .iter()
                .map(|r| self.image(r).map(|i| i.repository().to_owned()))
                .collect::<Result<_, _>>()?,
            images => images.iter().map(|i| self.path_of(i).map(str::to_owned)).collect::<Result<_, _>>()?,
        };
        let mut orphans = Vec::new();
        for repository in &repositories {
            for o in self.orphans_at(repository, tags).await? {
                orphans.push(RepositoryOrphan {
                    repository: repository.clone(),
                    tag: o.tag,
                    index: o.index,
                    missing_child: o.missing_child,
                });
            }
        }
        Ok(OrphanReport { host: self.host.clone(), repositories: repositories.len(), checked: repositories, orphans })
    }

    /// Every index reachable from `tags` (all tags when `None`) of `image` whose child manifests are
    /// missing: the failure that leaves a tag unpullable.
    pub async fn find_orphans(&self, image: &ImageName, tags: Option<&[Tag]>) -> Result<Vec<Orphan>, Error> {
        self.orphans_at(self.path_of(image)?, tags).await
    }

    async fn orphans_at(&self, repository: &str, tags: Option<&[Tag]>) -> Result<Vec<Orphan>, Error> {
        let tags = match tags {
            Some(tags) => tags.iter().map(Tag::to_string).collect(),
            None => self.list_tags(repository).await?,
        };
        let mut orphans = Vec::new();
        let mut checked: HashMap<String, Vec<String>> = HashMap::new();
        for tag in tags {
            let Some(manifest) = self.get_manifest(repository, &tag).await? else { continue };
            let Some(children) = manifest.children() else { continue };
            let missing = match checked.get(&manifest.digest) {
                Some(missing) => missing.clone(),
                None => {
                    let mut missing = Vec::new();
                    for child in children {
                        if self.head_manifest(repository, &child).await?.is_none() {
                            missing.push(child);
                        }
                    }
                    checked.insert(manifest.digest.clone(), missing.clone());
                    missing
                }
            };
            orphans.extend(missing.into_iter().map(|missing_child| Orphan {
                tag: tag.clone(),
                index: manifest.digest.clone(),
                missing_child,
            }));
        }
        Ok(orphans)
    }

    /// Checks a pull-through cache: `/v2/` and `/v2/_catalog` answer, with timings.
    pub async fn check_cache(&self) -> Result<CacheHealth, Error> {
        let ping = self.ping().await?;
        let start = Instant::now();
        let repositories = self.catalog().await?;
        Ok(CacheHealth { ping_ms: ping.as_millis(), catalog_ms: start.elapsed().as_millis(), repositories })
    }
}
