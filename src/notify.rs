//! Posting a step's result to a Slack incoming webhook (as the seed's deploy pipeline did with curl).
//! The webhook URL is a credential: it never appears in errors.

use offinfra_http::{Client, ExposeSecret, Request, SecretString};

/// Posts `text` (Slack mrkdwn) to the incoming webhook `webhook`. Errors are fixed texts plus the HTTP
/// status: the webhook's address is the credential, and a transport error would carry it in any
/// spelling (normalised, percent-encoded, cut).
pub async fn slack(webhook: &SecretString, text: &str) -> Result<(), crate::Error> {
    let url = webhook.expose_secret();
    let hide =
        || crate::Error::invalid("posting to Slack failed (the webhook did not answer; its address is not shown)");
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(crate::Error::invalid("the Slack webhook is not an http(s) URL"));
    }
    let client = Client::builder(url).build().map_err(|_| hide())?;
    let request = Request::post(url).json(&serde_json::json!({ "text": text })).map_err(|_| hide())?;
    let response = client.send(&request).await.map_err(|_| hide())?;
    if !response.status.is_success() {
        return Err(crate::Error::invalid(format!("posting to Slack: HTTP {}", response.status.as_u16())));
    }
    Ok(())
}

/// Posts `text` to the Slack webhook when one is configured; a failed post is a warning on stderr, not a
/// failed step.
pub async fn slack_or_warn(webhook: Option<&str>, text: &str) {
    if let Some(webhook) = webhook.filter(|w| !w.is_empty()) {
        if let Err(e) = slack(&webhook.to_owned().into(), text).await {
            eprintln!("warning: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_webhook_address_never_shows_in_an_error() {
        // A closed loopback port: the transport error names the URL, path and all.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        for webhook in [
            format!("http://127.0.0.1:{port}/services/T000/B000/s3cretpath"),
            format!("http://127.0.0.1:{port}/services/T000/B000/s3cret%70ath?x=1"),
            "http://[::1/services/s3cretpath".to_owned(),
        ] {
            let err = slack(&webhook.clone().into(), "hi").await.unwrap_err();
            let text = crate::error::render_chain(&err);
            assert!(!text.contains("s3cret") && !text.contains("services"), "{webhook}: {text}");
        }
    }
}
