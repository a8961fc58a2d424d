//! `Link` header pagination (RFC 8288), as GitHub, Forgejo and OCI registries send it.

/// The target of the `rel="next"` link in a `Link` header value, if any.
///
/// ```
/// let link = r#"<https://api.github.com/user/packages?page=2>; rel="next", <https://api.github.com/user/packages?page=5>; rel="last""#;
/// assert_eq!(offinfra_http::link::next_link(link).as_deref(), Some("https://api.github.com/user/packages?page=2"));
/// assert_eq!(offinfra_http::link::next_link("</v2/_catalog?last=b&n=2>; rel=next").as_deref(), Some("/v2/_catalog?last=b&n=2"));
/// ```
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map(|i| close + i).unwrap_or(rest.len());
        let params = rest[close + 1..params_end].trim().trim_end_matches(',');
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else { return false };
            key.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn finds_next_among_others() {
        let h =
            r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=3>; rel="next", <https://x/a?page=9>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://x/a?page=3"));
        assert_eq!(next_link(r#"<https://x/a?page=9>; rel="last""#), None);
        assert_eq!(
            next_link(r#"<https://x/a?p=2>; title="x, y"; rel="next last""#).as_deref(),
            Some("https://x/a?p=2")
        );
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<broken"), None);
    }
}
