//! When and how long to wait before trying a request again. Pure functions over status and headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{header::HeaderMap, StatusCode};

/// Exponential backoff with jitter, a cap per wait and an overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles each time.
    pub initial_backoff: Duration,
    /// No single wait is longer than this (a server's `Retry-After` beyond it ends the retries).
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 500 ms doubling up to 60 s, within 5 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait before retry number `retry` (0-based), with "equal jitter": half fixed, half random,
    /// `unit` being a random number in `[0, 1)`.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exp = self.initial_backoff.saturating_mul(2u32.saturating_pow(retry.min(20)));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// How long to wait before retrying after `answer`, or `None` to stop: the server's `Retry-After` (or
    /// rate-limit reset) when it gives one, else the backoff. `elapsed` is the time since the first
    /// attempt and `attempt` the number of attempts made so far; the backoff is jittered.
    pub fn delay_after(
        &self,
        attempt: u32,
        elapsed: Duration,
        answer: Answer<'_>,
        now: SystemTime,
    ) -> Option<Duration> {
        let Answer { status, headers, idempotent } = answer;
        if attempt >= self.max_attempts || !should_retry(status, headers, idempotent) {
            return None;
        }
        let delay = match server_delay(headers, now) {
            Some(server) if server > self.max_backoff => return None,
            Some(server) => server,
            None => self.backoff(attempt.saturating_sub(1), jitter_unit()),
        };
        (elapsed.saturating_add(delay) <= self.deadline).then_some(delay)
    }
}

/// What a server answered, and whether the request may be sent twice: what a retry is decided on.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Retry-After`, GitHub's `x-ratelimit-*`).
    pub headers: &'a HeaderMap,
    /// Whether the request is idempotent (a server error is retried only then).
    pub idempotent: bool,
}

/// Whether a response with `status` may be retried. Server errors and timeouts only for idempotent
/// requests; "slow down" answers (429, rate-limited 403) for any request, since the server did not act.
pub fn should_retry(status: StatusCode, headers: &HeaderMap, idempotent: bool) -> bool {
    match status.as_u16() {
        429 => true,
        403 => is_rate_limited(headers),
        408 | 500 | 502 | 503 | 504 => idempotent,
        _ => false,
    }
}

/// A 403 that is GitHub's rate limit rather than a permission problem.
pub fn is_rate_limited(headers: &HeaderMap) -> bool {
    headers.contains_key("retry-after") || header_str(headers, "x-ratelimit-remaining") == Some("0")
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The wait the server asks for: `Retry-After` (seconds or an HTTP date), else, when the rate limit is
/// exhausted, until `x-ratelimit-reset` (epoch seconds) plus one second.
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(value) = header_str(headers, "retry-after") {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or_default());
        }
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        let reset: u64 = header_str(headers, "x-ratelimit-reset")?.parse().ok()?;
        // A reset past what the clock can hold is a server's nonsense, not a reason to panic: no delay.
        let at = UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        return Some(at.duration_since(now).unwrap_or_default().saturating_add(Duration::from_secs(1)));
    }
    None
}

/// A number in `[0, 1)` for jitter; good enough to spread retries, not for anything else.
pub fn jitter_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(2000));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(60));
        let u = jitter_unit();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn retry_after_seconds_date_and_rate_limit_reset() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(server_delay(&headers(&[("retry-after", "7")]), now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(server_delay(&headers(&[("retry-after", &date)]), now), Some(Duration::from_secs(30)));
        let reset = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000010")]);
        assert_eq!(server_delay(&reset, now), Some(Duration::from_secs(11)));
        let plenty = headers(&[("x-ratelimit-remaining", "10"), ("x-ratelimit-reset", "1700000010")]);
        assert_eq!(server_delay(&plenty, now), None);
    }

    #[test]
    fn a_reset_past_the_clock_is_no_delay_not_a_panic() {
        let now = SystemTime::now();
        for reset in [u64::MAX.to_string(), (i64::MAX as u64 + 1).to_string(), "18446744073709551615".into()] {
            let far = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]);
            assert_eq!(server_delay(&far, now), None, "{reset}");
            let answer = Answer { status: StatusCode::TOO_MANY_REQUESTS, headers: &far, idempotent: true };
            assert!(RetryPolicy::default().delay_after(1, Duration::MAX, answer, now).is_none());
        }
    }

    #[test]
    fn what_is_retried() {
        let none = HeaderMap::new();
        assert!(should_retry(StatusCode::SERVICE_UNAVAILABLE, &none, true));
        assert!(!should_retry(StatusCode::SERVICE_UNAVAILABLE, &none, false), "a POST may have been applied");
        assert!(should_retry(StatusCode::TOO_MANY_REQUESTS, &none, false));
        assert!(!should_retry(StatusCode::FORBIDDEN, &none, true), "a plain 403 is a permission problem");
        assert!(should_retry(StatusCode::FORBIDDEN, &headers(&[("x-ratelimit-remaining", "0")]), true));
        assert!(!should_retry(StatusCode::NOT_FOUND, &none, true));

        let p = RetryPolicy::default();
        let now = SystemTime::now();
        let slow = headers(&[("retry-after", "2")]);
        assert_eq!(
            p.delay_after(
                1,
                Duration::ZERO,
                Answer { status: StatusCode::TOO_MANY_REQUESTS, headers: &slow, idempotent: true },
                now
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay_after(
                5,
                Duration::ZERO,
                Answer { status: StatusCode::TOO_MANY_REQUESTS, headers: &slow, idempotent: true },
                now
            ),
            None,
            "attempts used up"
        );
        let too_long = headers(&[("retry-after", "3600")]);
        assert_eq!(
            p.delay_after(
                1,
                Duration::ZERO,
                Answer { status: StatusCode::TOO_MANY_REQUESTS, headers: &too_long, idempotent: true },
                now
            ),
            None
        );
        assert_eq!(
            p.delay_after(
                1,
                Duration::from_secs(300),
                Answer { status: StatusCode::BAD_GATEWAY, headers: &none, idempotent: true },
                now
            ),
            None,
            "deadline"
        );
    }
}
