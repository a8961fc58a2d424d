//! Posting a step's result to a Slack incoming webhook (as the seed's deploy pipeline did with curl).
//! The webhook URL is a credential: it never appears in errors.

use offinfra_http::{Client, ExposeSecret, Request, SecretString};

/// Posts `text` (Slack mrkdwn) to the incoming webhook `webhook`. Errors are [`crate::Error::Invalid`]
/// messages with the webhook's address replaced by `<slack webhook>`: the transport's own error would
/// carry it.
pub async fn slack(webhook: &SecretString, text: &str) -> Result<(), crate::Error> {
    let url = webhook.expose_secret();
    let hide = |message: String| crate::Error::invalid(message.replace(url, "<slack webhook>"));
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(crate::Error::invalid("the Slack webhook is not an http(s) URL"));
    }
    let client = Client::builder(url).build().map_err(|e| hide(format!("Slack webhook: {e}")))?;
    let request = Request::post(url).json(&serde_json::json!({ "text": text })).map_err(|e| hide(e.to_string()))?;
    let response = client.send(&request).await.map_err(|e| hide(format!("posting to Slack: {e}")))?;
    if !response.status.is_success() {
        return Err(crate::Error::invalid(format!("posting to Slack: HTTP {}", response.status.as_u16())));
    }
    Ok(())
}
