//! The pure part of the computation: from a current version and the largest change found to the
//! printed version. No git here, so every rule is unit-tested directly.

use crate::{Bump, Error, Version, VersionError};

/// Which version to compute (svu's sub-commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The next version according to the commits since the current tag.
    Next,
    /// Current with major + 1.
    Major,
    /// Current with minor + 1.
    Minor,
    /// Current with patch + 1 (a prerelease becomes its release).
    Patch,
    /// The current tag's version, unchanged.
    Current,
    /// The next prerelease, counting up from the current tag.
    Prerelease,
}

impl Action {
    /// Whether this action reads the commits since the current tag.
    pub fn reads_history(self) -> bool {
        matches!(self, Action::Next | Action::Prerelease)
    }
}

/// The inputs of [`next_version`] besides the current version and the change found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BumpOptions {
    /// `--prerelease`: set on the result (next/major/minor/patch) or the name to count (prerelease).
    pub prerelease: String,
    /// `--metadata`: build metadata set on the result.
    pub metadata: String,
    /// `--always`: no bumping commit still gives a patch bump (next only).
    pub always: bool,
    /// `--v0`: a breaking change on major 0 bumps minor (next only).
    pub v0: bool,
}

/// svu's `findNext`: the version after `current` given the largest change `bump` in the range.
pub fn bump_version(current: &Version, bump: Bump, always: bool, v0: bool) -> Result<Version, VersionError> {
    match bump {
        Bump::Major if v0 && current.major() == 0 => current.inc_minor(),
        Bump::Major => current.inc_major(),
        Bump::Minor => current.inc_minor(),
        Bump::Patch => current.inc_patch(),
        Bump::None if always => current.inc_patch(),
        Bump::None => Ok(current.clone()),
    }
}

/// svu's `nextVersion`: the version `action` prints, given the `current` version of tag `tag`
/// (empty when there is none) and the largest `bump` among the commits since it.
///
/// ```
/// use svu::{engine::{next_version, Action, BumpOptions}, Bump, Version};
///
/// let current: Version = "1.2.3-rc.1".parse().unwrap();
/// let opts = BumpOptions::default();
/// assert_eq!(next_version(Action::Next, &current, Bump::None, &opts, "v1.2.3-rc.1").unwrap().to_string(), "1.2.3");
/// assert_eq!(next_version(Action::Next, &current, Bump::Minor, &opts, "v1.2.3-rc.1").unwrap().to_string(), "1.3.0");
/// let beta = BumpOptions { prerelease: "beta".into(), ..BumpOptions::default() };
/// assert_eq!(next_version(Action::Prerelease, &current, Bump::Minor, &beta, "v1.2.3-rc.1").unwrap().to_string(), "1.3.0-beta.0");
/// ```
pub fn next_version(
    action: Action,
    current: &Version,
    bump: Bump,
    opts: &BumpOptions,
    tag: &str,
) -> Result<Version, Error> {
    let wrap = |source| Error::InvalidVersionPart { tag: tag.to_owned(), source };
    let result = match action {
        Action::Current => return Ok(current.clone()),
        Action::Next => bump_version(current, bump, opts.always, opts.v0).map_err(wrap)?,
        // svu never applies --always or --v0 to `prerelease`.
        Action::Prerelease => bump_version(current, bump, false, false).map_err(wrap)?,
        Action::Major => current.inc_major().map_err(wrap)?,
        Action::Minor => current.inc_minor().map_err(wrap)?,
        Action::Patch => current.inc_patch().map_err(wrap)?,
    };
    let result = match action {
        Action::Prerelease => next_prerelease(current, &result, &opts.prerelease, tag)?,
        _ => result.with_prerelease(&opts.prerelease).map_err(wrap)?,
    };
    result.with_metadata(&opts.metadata).map_err(wrap)
}

/// svu's `nextPreRelease`: the prerelease after `current` when the commits ask for `next`.
fn next_prerelease(current: &Version, next: &Version, prerelease: &str, tag: &str) -> Result<Version, Error> {
    let wrap = |source| Error::InvalidVersionPart { tag: tag.to_owned(), source };
    let suffix = if !prerelease.is_empty() {
        // A name that already ends in a number is taken literally.
        let parts: Vec<&str> = prerelease.split('.').collect();
        if parts.len() > 1 && parts[parts.len() - 1].parse::<i64>().is_ok() {
            return current.with_prerelease(prerelease).map_err(wrap);
        }
        let current_name = current.prerelease().split('.').next().unwrap_or_default();
        if current_name == prerelease {
            current.prerelease()
        } else {
            prerelease
        }
    } else if current.is_prerelease() {
        current.prerelease()
    } else {
        return Err(Error::PrereleaseSuffixRequired { tag: tag.to_owned(), current: current.to_string() });
    };

    let parts: Vec<&str> = suffix.split('.').collect();
    let mut name = parts[0];
    let mut counter: i64 = 0;
    let release = current.with_prerelease("").map_err(wrap)?;
    let mut next = next.clone();
    // From a release, a prerelease targets at least the next patch (svu #230).
    if !current.is_prerelease() && next.partial_cmp(&release) != Some(std::cmp::Ordering::Greater) {
        next = current.inc_patch().map_err(wrap)?;
    }
    if next.partial_cmp(&release) != Some(std::cmp::Ordering::Greater) {
        counter = -1;
        if parts.len() == 2 {
            // svu ignores a non-numeric second part (Atoi's error), counting from 0.
            counter = parts[1].parse().unwrap_or(0);
        } else if parts.len() > 2 {
            name = parts[parts.len() - 1];
        }
        counter = counter
            .checked_add(1)
            .ok_or_else(|| Error::PrereleaseCounterOverflow { tag: tag.to_owned(), prerelease: suffix.to_owned() })?;
    }
    next.with_prerelease(&format!("{name}.{counter}")).map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn next(action: Action, current: &str, bump: Bump, opts: BumpOptions) -> String {
        next_version(action, &v(current), bump, &opts, "t")
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    fn pre(name: &str) -> BumpOptions {
        BumpOptions { prerelease: name.into(), ..BumpOptions::default() }
    }

    #[test]
    fn next_applies_find_next() {
        let none = BumpOptions::default;
        assert_eq!(next(Action::Next, "1.2.3", Bump::None, none()), "1.2.3");
        assert_eq!(next(Action::Next, "1.2.3", Bump::Patch, none()), "1.2.4");
        assert_eq!(next(Action::Next, "1.2.3", Bump::Minor, none()), "1.3.0");
        assert_eq!(next(Action::Next, "1.2.3", Bump::Major, none()), "2.0.0");
        assert_eq!(next(Action::Next, "0.5.5", Bump::Major, none()), "1.0.0");
        assert_eq!(next(Action::Next, "0.5.5", Bump::Major, BumpOptions { v0: true, ..none() }), "0.6.0");
        assert_eq!(next(Action::Next, "1.5.5", Bump::Major, BumpOptions { v0: true, ..none() }), "2.0.0");
        assert_eq!(next(Action::Next, "1.2.3", Bump::None, BumpOptions { always: true, ..none() }), "1.2.4");
        // v3.4.1: --always on a prerelease gives the release, not +1.
        assert_eq!(next(Action::Next, "1.2.3-rc.1", Bump::None, BumpOptions { always: true, ..none() }), "1.2.3");
        assert_eq!(next(Action::Next, "1.2.3-rc.1", Bump::None, none()), "1.2.3");
        assert_eq!(next(Action::Next, "1.2.3-rc.1", Bump::Patch, none()), "1.2.3");
        assert_eq!(next(Action::Next, "1.2.3-rc.1", Bump::Minor, none()), "1.3.0");
    }

    #[test]
    fn explicit_bumps_set_prerelease_and_metadata() {
        assert_eq!(next(Action::Patch, "1.2.3-alpha.1+1", Bump::None, BumpOptions::default()), "1.2.3");
        let opts = BumpOptions { prerelease: "alpha.2".into(), metadata: "10".into(), ..BumpOptions::default() };
        assert_eq!(next(Action::Patch, "1.2.3-alpha.1+1", Bump::None, opts), "1.2.3-alpha.2+10");
        assert_eq!(next(Action::Minor, "1.2.3-pre+123", Bump::None, pre("alpha.1")), "1.3.0-alpha.1");
        assert_eq!(next(Action::Major, "1.2.3", Bump::None, BumpOptions::default()), "2.0.0");
        assert_eq!(next(Action::Current, "1.2.3-pre+123", Bump::Major, pre("x")), "1.2.3-pre+123");
        assert!(
            next(Action::Next, "1.2.3", Bump::None, pre("alpha..1")).starts_with("error: could not get next tag: 't'")
        );
        let bad_meta = BumpOptions { metadata: "a_b".into(), ..BumpOptions::default() };
        assert!(next(Action::Patch, "1.2.3", Bump::None, bad_meta).starts_with("error:"));
    }

    #[test]
    fn prerelease_counting_matches_svu_tests() {
        assert_eq!(next(Action::Prerelease, "1.2.3-alpha.1", Bump::Minor, pre("beta")), "1.3.0-beta.0");
        assert_eq!(next(Action::Prerelease, "1.2.3-alpha.11", Bump::Patch, BumpOptions::default()), "1.2.3-alpha.12");
        assert_eq!(
            next(Action::Prerelease, "1.2.3-alpha.1+build.43", Bump::Patch, BumpOptions::default()),
            "1.2.3-alpha.2"
        );
        assert_eq!(next(Action::Prerelease, "1.2.3-alpha123.1", Bump::Patch, pre("alpha123")), "1.2.3-alpha123.2");
        assert_eq!(next(Action::Prerelease, "1.2.3-alpha.1", Bump::Patch, pre("alpha")), "1.2.3-alpha.2");
        assert_eq!(next(Action::Prerelease, "1.2.3-alpha.1", Bump::None, pre("beta")), "1.2.3-beta.0");
        assert_eq!(next(Action::Prerelease, "1.2.3", Bump::Minor, pre("beta")), "1.3.0-beta.0");
        // From a release with nothing to bump, the prerelease targets the next patch (svu #230).
        assert_eq!(next(Action::Prerelease, "0.8.0", Bump::None, pre("dev")), "0.8.1-dev.0");
        // A number at the end is taken literally, on the current version.
        assert_eq!(next(Action::Prerelease, "1.2.3", Bump::Major, pre("alpha.10")), "1.2.3-alpha.10");
        // More than two parts: the last one names the prerelease.
        assert_eq!(next(Action::Prerelease, "1.2.3-a.b.c", Bump::None, BumpOptions::default()), "1.2.3-c.0");
        let with_meta = BumpOptions { metadata: "124".into(), ..pre("alpha") };
        assert_eq!(next(Action::Prerelease, "1.3.0-alpha.0", Bump::None, with_meta), "1.3.0-alpha.1+124");
        assert!(next(Action::Prerelease, "1.2.3", Bump::Minor, BumpOptions::default())
            .contains("--prerelease suffix is required to calculate next pre-release version as suffix could not be determined from current version: 1.2.3"));
        // --always and --v0 never reach `prerelease`.
        let opts = BumpOptions { always: true, v0: true, ..pre("rc") };
        assert_eq!(next(Action::Prerelease, "0.5.0", Bump::Major, opts), "1.0.0-rc.0");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn version() -> impl Strategy<Value = Version> {
            let pre = prop_oneof![Just(String::new()), "(alpha|beta|rc)(\\.(0|[1-9][0-9]{0,2}))?"];
            let meta = prop_oneof![Just(String::new()), "[0-9a-z]{1,6}"];
            (0u64..5, 0u64..5, 0u64..5, pre, meta).prop_map(|(major, minor, patch, pre, meta)| {
                Version::new(major, minor, patch).with_prerelease(&pre).unwrap().with_metadata(&meta).unwrap()
            })
        }

        fn bump() -> impl Strategy<Value = Bump> {
            prop_oneof![Just(Bump::None), Just(Bump::Patch), Just(Bump::Minor), Just(Bump::Major)]
        }

        proptest! {
            #[test]
            fn next_is_never_lower_than_current(current in version(), bump in bump(), always: bool, v0: bool, meta in "[0-9a-z]{0,4}") {
                let opts = BumpOptions { prerelease: String::new(), metadata: meta, always, v0 };
                for action in [Action::Next, Action::Major, Action::Minor, Action::Patch, Action::Current] {
                    let next = next_version(action, &current, bump, &opts, "t").unwrap();
                    prop_assert!(next >= current, "{action:?}: {next} < {current}");
                }
                // A larger change never gives a smaller version.
                let smaller = next_version(Action::Next, &current, Bump::None, &opts, "t").unwrap();
                let larger = next_version(Action::Next, &current, bump, &opts, "t").unwrap();
                prop_assert!(larger >= smaller);
            }
        }
    }
}
