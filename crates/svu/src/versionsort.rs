//! git's `version:refname` ordering (`versioncmp.c`), with `versionsort.suffix` support.
//!
//! svu picks its tag from `git tag --sort=-version:refname` run with `-c versionsort.suffix=-`, so the
//! "highest" tag is whatever this ordering puts last. Reproducing it byte for byte keeps our choice of
//! tag identical to svu's, including its odd corners (non-semver names, `v1.10` above `v1.9`).

use std::cmp::Ordering;

const S_N: usize = 0x0;
const S_I: usize = 0x3;
const S_F: usize = 0x6;
const S_Z: usize = 0x9;

const CMP: i8 = 2;
const LEN: i8 = 3;

// Transition table, indexed by state + class of the next byte (other, digit, zero).
const NEXT_STATE: [usize; 12] = [
    S_N, S_I, S_Z, // S_N
    S_N, S_I, S_I, // S_I
    S_N, S_F, S_F, // S_F
    S_N, S_F, S_Z, // S_Z
];

// Result of a difference, indexed by state * 3 + class of the other string's byte.
#[rustfmt::skip]
const RESULT_TYPE: [i8; 36] = [
    // x/x  x/d  x/0  d/x  d/d  d/0  0/x  0/d  0/0
    CMP, CMP, CMP, CMP, LEN, CMP, CMP, CMP, CMP, // S_N
    CMP, -1,  -1,  1,   LEN, LEN, 1,   LEN, LEN, // S_I
    CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, CMP, // S_F
    CMP, 1,   1,   -1,  CMP, CMP, -1,  CMP, CMP, // S_Z
];

fn class(c: u8) -> usize {
    usize::from(c == b'0') + usize::from(c.is_ascii_digit())
}

/// Compares two names as `git -c versionsort.suffix=<suffixes…> tag --sort=version:refname` does.
///
/// `suffixes` are the configured prerelease suffixes, in configuration order (svu uses `["-"]`, which
/// sorts `v1.0.0-rc.1` before `v1.0.0`).
///
/// ```
/// use std::cmp::Ordering;
/// use svu::versionsort::versioncmp;
///
/// assert_eq!(versioncmp(b"v1.9.0", b"v1.10.0", &[]), Ordering::Less);
/// assert_eq!(versioncmp(b"v1.0.0", b"v1.0.0-rc.1", &[]), Ordering::Less);
/// assert_eq!(versioncmp(b"v1.0.0", b"v1.0.0-rc.1", &["-"]), Ordering::Greater);
/// ```
pub fn versioncmp(s1: &[u8], s2: &[u8], suffixes: &[&str]) -> Ordering {
    if s1 == s2 {
        return Ordering::Equal;
    }
    // C strings: reading past the end yields NUL.
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut p1, mut p2) = (0usize, 0usize);
    let mut c1 = at(s1, p1);
    let mut c2 = at(s2, p2);
    p1 += 1;
    p2 += 1;
    let mut state = S_N + class(c1);
    let mut diff = i32::from(c1) - i32::from(c2);
    while diff == 0 {
        if c1 == 0 {
            return Ordering::Equal;
        }
        state = NEXT_STATE[state];
        c1 = at(s1, p1);
        c2 = at(s2, p2);
        p1 += 1;
        p2 += 1;
        state += class(c1);
        diff = i32::from(c1) - i32::from(c2);
    }

    if !suffixes.is_empty() {
        if let Some(swapped) = swap_prereleases(s1, s2, p1 - 1, suffixes) {
            return swapped;
        }
    }

    match RESULT_TYPE[state * 3 + class(c2)] {
        CMP => diff.cmp(&0),
        LEN => {
            loop {
                let d1 = at(s1, p1).is_ascii_digit();
                p1 += 1;
                if !d1 {
                    break;
                }
                let d2 = at(s2, p2).is_ascii_digit();
                p2 += 1;
                if !d2 {
                    return Ordering::Greater;
                }
            }
            if at(s2, p2).is_ascii_digit() {
                Ordering::Less
            } else {
                diff.cmp(&0)
            }
        }
        fixed => fixed.cmp(&0),
    }
}

/// git's `swap_prereleases`: a name with a configured suffix at (or ending right before) the first
/// differing offset sorts before one without; two different suffixes sort in configuration order.
fn swap_prereleases(s1: &[u8], s2: &[u8], off: usize, suffixes: &[&str]) -> Option<Ordering> {
    let mut i1 = None;
    let mut i2 = None;
    for (i, suffix) in suffixes.iter().enumerate() {
        let suffix = suffix.as_bytes();
        let start = off.saturating_sub(suffix.len());
        for pos in start..=off {
            if i1.is_none() && s1.get(pos..).is_some_and(|s| s.starts_with(suffix)) {
                i1 = Some(i);
            }
            if i2.is_none() && s2.get(pos..).is_some_and(|s| s.starts_with(suffix)) {
                i2 = Some(i);
            }
        }
    }
    match (i1, i2) {
        (None, None) => None,
        (a, b) if a == b => None,
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        (Some(_), None) => Some(Ordering::Less),
        (None, Some(_)) => Some(Ordering::Greater),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str], suffixes: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = names.to_vec();
        // Insertion sort: the ordering is not guaranteed to be total for arbitrary inputs.
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && versioncmp(v[j - 1].as_bytes(), v[j].as_bytes(), suffixes) == Ordering::Greater {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        v.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn numeric_runs_compare_as_numbers() {
        assert_eq!(
            sorted(&["v1.10.0", "v1.9.0", "v1.2.0", "v2.0.0", "v1.0.10", "v1.0.9"], &[]),
            ["v1.0.9", "v1.0.10", "v1.2.0", "v1.9.0", "v1.10.0", "v2.0.0"]
        );
    }

    #[test]
    fn dash_suffix_puts_prereleases_first() {
        assert_eq!(
            sorted(&["v1.3.0", "v1.3.0-rc.1", "v1.3.0-rc.2", "v1.2.9"], &["-"]),
            ["v1.2.9", "v1.3.0-rc.1", "v1.3.0-rc.2", "v1.3.0"]
        );
        // Without the suffix config, git sorts the prerelease after the release.
        assert_eq!(sorted(&["v1.3.0", "v1.3.0-rc.1"], &[]), ["v1.3.0", "v1.3.0-rc.1"]);
    }

    #[test]
    fn letters_and_leading_zeros() {
        // 'w' > 'v': a non-semver tag can sort first, as svu users discover.
        assert_eq!(versioncmp(b"wip", b"v1.0.0", &["-"]), Ordering::Greater);
        assert_eq!(versioncmp(b"latest", b"v1.0.0", &["-"]), Ordering::Less);
        // Fractional parts (leading zero) compare digit by digit.
        assert_eq!(versioncmp(b"1.01", b"1.002", &[]), Ordering::Greater);
        assert_eq!(versioncmp(b"a", b"a", &[]), Ordering::Equal);
        assert_eq!(versioncmp(b"v1", b"v1.0", &[]), Ordering::Less);
    }
}
