//! The retention flags `prune-versions` and `forgejo-cleanup` share: [`RetentionArgs`] gives the
//! [`PruneOptions`] of the image-aware planner.

use std::time::Duration;

use crate::{ghcr_client::prune::PruneOptions, Error};

/// What a prune keeps, and how fast it deletes.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct RetentionArgs {
    /// How many images (tagged versions, with what they reference) to keep
    #[arg(long, default_value_t = 10, env = "PLUGIN_KEEP")]
    pub keep: usize,
    /// Never delete versions with a tag matching this regular expression
    #[arg(long, value_name = "REGEX", env = "PLUGIN_PROTECT_TAGS")]
    pub protect_tags: Option<String>,
    /// Never delete versions carrying this tag (repeat; `latest` is always kept)
    #[arg(long = "keep-tag", value_name = "TAG")]
    pub keep_tags: Vec<String>,
    /// Never delete this digest (repeat; e.g. the image just pushed)
    #[arg(long = "keep-digest", value_name = "DIGEST")]
    pub keep_digests: Vec<String>,
    /// Untagged versions younger than this are kept (a push may still be in flight)
    #[arg(long, default_value = "1h", value_parser = crate::cli::parse_duration)]
    pub grace: Duration,
    /// Delete only untagged versions
    #[arg(long)]
    pub untagged_only: bool,
    /// Delete at most this many versions in this run (the oldest first)
    #[arg(long, value_name = "N")]
    pub max_deletions: Option<usize>,
    /// Seconds to wait between two deletions
    #[arg(long, default_value_t = 1.0)]
    pub pause: f64,
}

impl RetentionArgs {
    /// The planner's options: `latest` and the `--keep-tag`s always kept, the protected tags compiled.
    pub fn options(&self) -> Result<PruneOptions, Error> {
        let protect_tags = self.protect_tags.as_deref().map(PruneOptions::protect).transpose()?;
        let defaults = PruneOptions::default();
        Ok(PruneOptions {
            keep: self.keep,
            protect_tags,
            always_keep_tags: defaults.always_keep_tags.iter().chain(&self.keep_tags).cloned().collect(),
            keep_digests: self.keep_digests.clone(),
            untagged_grace: self.grace,
            untagged_only: self.untagged_only,
            max_deletions: self.max_deletions,
            now: None,
        })
    }

    /// `--pause` as a duration, or the error naming it.
    pub fn pause(&self) -> Result<Duration, Error> {
        // `try_from`: a finite number past what a Duration holds (1e20) is an error, not a panic.
        Duration::try_from_secs_f64(self.pause).map_err(|_| {
            Error::invalid(format!("--pause {}: expected a number of seconds, 0 or more (at most 2^64)", self.pause))
        })
    }
}
