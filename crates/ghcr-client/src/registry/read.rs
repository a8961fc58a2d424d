//! Reads: manifests (digest-checked), tags, the catalog and blobs.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use offinfra_http::{
    header::{HeaderValue, ACCEPT, AUTHORIZATION},
    Request, StatusCode,
};

use offinfra_types::{Digest, ImageName, Reference};

use super::{Registry, DOCKER_CONTENT_DIGEST, MANIFEST_ACCEPT};
use crate::{layout::Hasher, Error};

/// A manifest fetched from a registry, digest verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedManifest {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl FetchedManifest {
    /// The child manifest digests if this is an index.
    pub fn children(&self) -> Option<Vec<String>> {
        let value: serde_json::Value = serde_json::from_slice(&self.bytes).ok()?;
        let manifests = value.get("manifests")?.as_array()?;
        Some(manifests.iter().filter_map(|m| m.get("digest")?.as_str().map(str::to_owned)).collect())
    }

    /// The digest this manifest's `subject` names: an OCI 1.1 referrer (a signature, an SBOM, an
    /// attestation) of that manifest.
    pub fn subject(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.bytes).ok()?;
        value.get("subject")?.get("digest")?.as_str().map(str::to_owned)
    }
}

impl Registry {
    /// `GET /v2/`: whether the registry answers, and how fast.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        self.execute(Request::get("/v2/"), &[]).await?;
        Ok(start.elapsed())
    }

    /// The digest a tag or digest of `image` resolves to (`HEAD`), or `None` if it does not exist.
    pub async fn manifest_digest(&self, image: &ImageName, reference: &Reference) -> Result<Option<Digest>, Error> {
        let found = self.head_manifest(self.path_of(image)?, reference.as_str()).await?;
        found.map(|digest| Error::checked_digest(&digest)).transpose()
    }

    /// A manifest of `image` by tag or digest, its digest verified; `None` if it does not exist.
    pub async fn manifest(&self, image: &ImageName, reference: &Reference) -> Result<Option<FetchedManifest>, Error> {
        self.get_manifest(self.path_of(image)?, reference.as_str()).await
    }

    /// Deletes a manifest of `image` by digest (Distribution allows it when deletes are enabled; ghcr
    /// answers 405 and wants the Packages API instead).
    pub async fn delete_manifest(&self, image: &ImageName, digest: &Digest) -> Result<(), Error> {
        let repository = self.path_of(image)?;
        let scopes = [format!("repository:{repository}:delete,pull,push")];
        self.execute(Request::delete(format!("/v2/{repository}/manifests/{digest}")), &scopes).await?;
        Ok(())
    }

    /// Every tag of `image` (following `Link` pages), as the registry lists them.
    pub async fn tags(&self, image: &ImageName) -> Result<Vec<String>, Error> {
        self.list_tags(self.path_of(image)?).await
    }

    /// Every repository in the catalog (following `Link` pages); [`Self::image`] names one.
    pub async fn catalog(&self) -> Result<Vec<String>, Error> {
        self.string_list("/v2/_catalog".to_owned(), &["registry:catalog:*".to_owned()], "repositories").await
    }

    /// Downloads blob `digest` of `image` into `out` in a stream (memory bounded by the network chunks),
    /// verifying the digest on the way; returns its size. A mismatch is an error once the whole blob
    /// is read: nothing written to `out` may be trusted before that.
    pub async fn pull_blob<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        image: &ImageName,
        digest: &Digest,
        out: &mut W,
    ) -> Result<u64, Error> {
        self.pull_blob_at(self.path_of(image)?, digest.as_str(), out).await
    }

    /// Whether `image`'s repository has the blob (`HEAD`).
    pub async fn blob_exists(&self, image: &ImageName, digest: &Digest) -> Result<bool, Error> {
        self.has_blob(self.path_of(image)?, digest.as_str()).await
    }

    /// `HEAD` of a manifest of the repository at `repository` (this registry's path).
    pub(super) async fn head_manifest(&self, repository: &str, reference: &str) -> Result<Option<String>, Error> {
        let is_digest = manifest_reference(reference)?;
        let request = Request::head(format!("/v2/{repository}/manifests/{reference}"))
            .header(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let response = self.send(request, &Self::pull(repository)).await?;
        match response.status {
            s if s.is_success() => Ok(response
                .header(DOCKER_CONTENT_DIGEST)
                .map(str::to_owned)
                .or_else(|| is_digest.then(|| reference.to_owned()))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(response.to_error("HEAD").into()),
        }
    }

    /// `GET` of a manifest of the repository at `repository`, its digest verified.
    pub(super) async fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, Error> {
        manifest_reference(reference)?;
        let request = Request::get(format!("/v2/{repository}/manifests/{reference}"))
            .header(ACCEPT, HeaderValue::from_static(MANIFEST_ACCEPT));
        let response = match self.execute(request, &Self::pull(repository)).await {
            Ok(response) => response,
            Err(Error::Http(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let expected = if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            response.header(DOCKER_CONTENT_DIGEST).map(str::to_owned)
        };
        let algorithm = expected.clone().unwrap_or_else(|| "sha256:".into());
        let mut hasher = Hasher::for_digest(&algorithm)?;
        hasher.update(&response.body);
        let actual = hasher.finish();
        if let Some(expected) = expected {
            if expected != actual {
                return Err(Error::DigestMismatch {
                    path: PathBuf::from(format!("{}/{repository}", self.host)),
                    digest: expected,
                    actual,
                });
            }
        }
        let media_type = response.header("content-type").unwrap_or_default().to_owned();
        Ok(Some(FetchedManifest { digest: actual, media_type, bytes: response.body.to_vec() }))
    }

    /// Every tag of the repository at `repository`.
    pub(super) async fn list_tags(&self, repository: &str) -> Result<Vec<String>, Error> {
        self.string_list(format!("/v2/{repository}/tags/list"), &Self::pull(repository), "tags").await
    }

    /// The strings under `key` of every page from `first` on, following `rel="next"` links.
    async fn string_list(&self, first: String, scopes: &[String], key: &str) -> Result<Vec<String>, Error> {
        let mut items = Vec::new();
        // A registry whose `Link` points back at a page (or never ends) is an error, not a loop.
        let mut guard = offinfra_http::PageGuard::default();
        let mut next = Some(first);
        while let Some(target) = next.take() {
            guard.visit(&self.http.url(&target)?)?;
            let response = self.execute(Request::get(target), scopes).await?;
            let page: serde_json::Value = response.json(&offinfra_http::Method::GET)?;
            let values = page.get(key).and_then(|t| t.as_array()).into_iter().flatten();
            items.extend(values.filter_map(|t| t.as_str().map(str::to_owned)));
            next = response.header("link").and_then(offinfra_http::link::next_link);
        }
        Ok(items)
    }

    /// [`Self::pull_blob`] from the repository at `repository`.
    pub(super) async fn pull_blob_at<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        repository: &str,
        digest: &str,
        out: &mut W,
    ) -> Result<u64, Error> {
        use tokio::io::AsyncWriteExt;
        let mut response = self.blob_stream(repository, digest).await?;
        let mut hasher = Hasher::for_digest(digest)?;
        let place = format!("{}/{repository}", self.host);
        let mut size = 0u64;
        let mut rate = super::Throughput::new(self.options.min_throughput);
        while let Some(chunk) = response.chunk().await.map_err(|source| offinfra_http::Error::Transport {
            method: "GET".into(),
            url: format!("{place}/blobs/{digest}"),
            source,
        })? {
            rate.add(chunk.len())
                .map_err(|reason| Error::Stalled { url: format!("{place}/blobs/{digest}"), reason })?;
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| Error::io(&place, e))?;
            size += chunk.len() as u64;
        }
        out.flush().await.map_err(|e| Error::io(&place, e))?;
        let actual = hasher.finish();
        if actual != digest {
            return Err(Error::DigestMismatch { path: PathBuf::from(place), digest: digest.to_owned(), actual });
        }
        Ok(size)
    }

    /// Blob `digest` of `repository` as a streamed answer, its body unread (a pull writes it to a file, a
    /// copy hands it to another registry's upload). A HEAD settles authentication (and finds a missing
    /// blob) before the streamed GET, which cannot answer a challenge.
    pub(super) async fn blob_stream(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<offinfra_http::StreamedResponse, Error> {
        let scopes = Self::pull(repository);
        let target = format!("/v2/{repository}/blobs/{}", blob_reference(digest)?);
        let head = self.send(Request::head(target.as_str()), &scopes).await?;
        if head.status == StatusCode::NOT_FOUND {
            // Not a transfer that failed: starting it again cannot help.
            let path = PathBuf::from(format!("{}/{repository}", self.host));
            return Err(Error::MissingBlob { path, digest: digest.to_owned() });
        }
        if !head.status.is_success() {
            return Err(head.to_error("HEAD").into());
        }
        let mut request = Request::get(target.as_str());
        if let Some(value) = self.auth_header(&scopes.join(" "))? {
            request = request.header(AUTHORIZATION, value);
        }
        Ok(self.http.send_streaming(&request).await?)
    }

    /// Whether the repository at `repository` has the blob (`HEAD`).
    pub(super) async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool, Error> {
        let target = format!("/v2/{repository}/blobs/{}", blob_reference(digest)?);
        let response = self.send(Request::head(target), &Self::push_scope(repository)).await?;
        match response.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(response.to_error("HEAD").into()),
        }
    }
}

/// Checks a blob digest before it goes into a `/blobs/<digest>` path: digests come from manifests a
/// server wrote, so each is held to the one rule ([`offinfra_types::Digest`]) first.
pub(super) fn blob_reference(digest: &str) -> Result<&str, Error> {
    Error::checked_digest(digest).map(|_| digest)
}

/// Checks what goes into a `/manifests/<reference>` path (a tag a server listed, a caller's input):
/// a digest (`algorithm:hex`, `true`) or an OCI tag (`false`); anything else, `../x` included, is an error.
pub(super) fn manifest_reference(reference: &str) -> Result<bool, Error> {
    if reference.contains(':') {
        if offinfra_types::Digest::parse(reference).is_ok() {
            return Ok(true);
        }
    } else if offinfra_types::Tag::parse(reference).is_ok() {
        return Ok(false);
    }
    Err(Error::BadReference(reference.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_digests_in_paths_are_held_to_the_one_rule() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(blob_reference(&good).unwrap(), good);
        for bad in ["../../v2/_catalog", "sha256:../x", "sha256:abc", "", "sha256:aaaa\\..", "sha256:%2e%2e"] {
            assert!(matches!(blob_reference(bad), Err(Error::UnsupportedDigest { .. })), "{bad:?}");
        }
    }

    #[test]
    fn references_in_paths_are_digests_or_tags() {
        assert!(manifest_reference(&format!("sha256:{}", "a".repeat(64))).unwrap());
        assert!(!manifest_reference("sha-not-a-digest").unwrap(), "a tag starting with sha is a tag");
        assert!(!manifest_reference("latest").unwrap());
        for bad in ["../../v2/_catalog", "a/b", "sha256:xyz", "", "t?x=1", "a b"] {
            assert!(manifest_reference(bad).is_err(), "{bad}");
        }
    }
}
