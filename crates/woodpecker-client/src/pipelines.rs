//! `/repos/{repo_id}/pipelines` and logs.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use offinfra_http::{base64_decode, Client, PageNumbers, Request};

use crate::{models::RawLogEntry, Error, LogEntry, Pipeline, Step};

/// The end of a failed step's log ([`Pipelines::failed_step_tails`]).
#[derive(Debug)]
pub struct StepTail {
    /// The failed step.
    pub step: Step,
    /// Its last log lines, oldest first (line ends trimmed), or why the log could not be read.
    pub lines: Result<Vec<String>, Error>,
}

/// The pipelines of one repository.
#[derive(Debug, Clone)]
pub struct Pipelines<'a> {
    pub(crate) http: &'a Client,
    pub(crate) repo_id: i64,
}

impl Pipelines<'_> {
    /// Starts a manual pipeline on `branch` with `variables` (they become environment variables).
    /// A `204 Pipeline-Filtered` answer is [`Error::PipelineFiltered`]. The POST is not repeated after
    /// the server may have acted.
    pub async fn create(&self, branch: &str, variables: &BTreeMap<String, String>) -> Result<Pipeline, Error> {
        let body = serde_json::json!({"branch": branch, "variables": variables});
        let request = Request::post(format!("/repos/{}/pipelines", self.repo_id)).json(&body)?;
        let response = self.http.execute(&request).await?;
        if response.status.as_u16() == 204
            || response.header("pipeline-filtered").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(Error::PipelineFiltered { repo_id: self.repo_id, branch: branch.to_owned() });
        }
        Ok(response.json(request.method())?)
    }

    /// Pipeline `number`, with its workflows and steps.
    pub async fn get(&self, number: i64) -> Result<Pipeline, Error> {
        Ok(self.http.json(&Request::get(format!("/repos/{}/pipelines/{number}", self.repo_id))).await?)
    }

    /// The newest pipelines first (50 a page, stopping at a short page), at most `limit`.
    pub async fn list(&self, limit: Option<usize>) -> Result<Vec<Pipeline>, Error> {
        let request = Request::get(format!("/repos/{}/pipelines", self.repo_id));
        Ok(self.http.collect_pages(&request, &PageNumbers::WOODPECKER, limit).await?)
    }

    /// Polls pipeline `number` (every 2 s, backing off to 10 s) until its status is terminal; an error
    /// after `timeout` (saying when it is blocked on approval).
    pub async fn wait(&self, number: i64, timeout: Duration) -> Result<Pipeline, Error> {
        self.wait_polling(number, timeout, Duration::from_secs(2)).await
    }

    /// [`Self::wait`] with the first pause between polls given (it grows by half each time, to 10 s).
    pub async fn wait_polling(&self, number: i64, timeout: Duration, first_pause: Duration) -> Result<Pipeline, Error> {
        let start = Instant::now();
        let mut pause = first_pause;
        loop {
            let pipeline = self.get(number).await?;
            tracing::debug!(repo_id = self.repo_id, number, status = %pipeline.status, "pipeline poll");
            if pipeline.status.is_terminal() {
                return Ok(pipeline);
            }
            if start.elapsed() + pause > timeout {
                return Err(Error::Timeout {
                    repo_id: self.repo_id,
                    number,
                    status: pipeline.status.to_string(),
                    waited_secs: start.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(10).max(first_pause));
        }
    }

    /// The last `lines` log lines of each failed step of `pipeline`, in the pipeline's order: what to show
    /// when a deploy failed. A log that cannot be read is kept as that step's error, not fatal.
    ///
    /// ```no_run
    /// # async fn run(ci: woodpecker_client::Woodpecker) -> Result<(), woodpecker_client::Error> {
    /// let pipelines = ci.repo(42).pipelines();
    /// let done = pipelines.wait(7, std::time::Duration::from_secs(300)).await?;
    /// for tail in pipelines.failed_step_tails(&done, 30).await {
    ///     eprintln!("--- step {} ({}) ---", tail.step.name, tail.step.state);
    ///     for line in tail.lines.unwrap_or_default() {
    ///         eprintln!("{line}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn failed_step_tails(&self, pipeline: &Pipeline, lines: usize) -> Vec<StepTail> {
        let mut tails = Vec::new();
        for step in pipeline.failed_steps() {
            let read = self.logs(pipeline.number, step.id).await.map(|entries| {
                let skip = entries.len().saturating_sub(lines);
                entries.into_iter().skip(skip).map(|e| e.text.trim_end().to_owned()).collect()
            });
            tails.push(StepTail { step: step.clone(), lines: read });
        }
        tails
    }

    /// The log of step `step_id` (`Step.id`, not its `pid`) of pipeline `number`, decoded.
    pub async fn logs(&self, number: i64, step_id: i64) -> Result<Vec<LogEntry>, Error> {
        let raw: Vec<RawLogEntry> =
            self.http.json(&Request::get(format!("/repos/{}/logs/{number}/{step_id}", self.repo_id))).await?;
        raw.into_iter()
            .map(|entry| {
                let text = match entry.data {
                    Some(data) => {
                        let bytes = base64_decode(&data).ok_or(Error::BadLog { step_id })?;
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                    None => String::new(),
                };
                Ok(LogEntry { line: entry.line, time: entry.time, kind: entry.kind, text })
            })
            .collect()
    }
}
