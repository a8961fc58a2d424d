//! `/repos/{repo_id}/pipelines` and logs.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use offinfra_http::{base64_decode, Client, PageNumbers, Request};

use crate::{models::RawLogEntry, Error, LogEntry, Pipeline, Step};

/// The end of a failed step's log ([`Pipelines::failed_step_tails`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct StepTail {
    /// The failed step.
    pub step: Step,
    /// Its last log lines, oldest first (line ends trimmed), or why the log could not be read.
    pub lines: Result<Vec<String>, Error>,
}

/// The largest step log read (a long build's log is far larger than any API answer).
const STEP_LOG_MAX: usize = 64 * 1024 * 1024;

/// How [`Pipelines::run`] waits for a pipeline's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// At most this long.
    pub timeout: Duration,
    /// The first pause between two polls (it grows by half each time, to 10 s).
    pub first_poll: Duration,
    /// Log lines kept from the end of each failed step.
    pub tail_lines: usize,
}

impl Wait {
    /// Wait at most `timeout`, polling from every 2 s, keeping 30 lines of each failed step.
    pub fn up_to(timeout: Duration) -> Self {
        Self { timeout, first_poll: Duration::from_secs(2), tail_lines: 30 }
    }
}

/// What [`Pipelines::run`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The pipeline as it was created.
    pub started: Pipeline,
    /// The pipeline at its end, when waited for.
    pub finished: Option<Pipeline>,
    /// The end of each failed step's log, when the pipeline failed.
    pub failed_steps: Vec<StepTail>,
}

impl RunOutcome {
    /// `Some(true)` when the pipeline was waited for and succeeded, `Some(false)` when it ended
    /// otherwise, `None` when it was not waited for.
    pub fn success(&self) -> Option<bool> {
        self.finished.as_ref().map(|p| p.status == crate::Status::Success)
    }
}

/// The pipelines of one repository.
#[derive(Debug, Clone)]
#[non_exhaustive]
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

    /// Starts a manual pipeline on `branch` with `variables` and, with `wait`, waits for its result; a
    /// pipeline that ends in anything but success comes with the end of each failed step's log.
    /// `on_started` hears the new pipeline at once (to print its number while waiting). Running out of
    /// time is [`Error::Timeout`].
    ///
    /// ```no_run
    /// # async fn run(ci: woodpecker_client::Woodpecker) -> Result<(), woodpecker_client::Error> {
    /// use std::{collections::BTreeMap, time::Duration};
    /// use woodpecker_client::Wait;
    ///
    /// let variables = BTreeMap::from([("IMAGE_TAG".to_owned(), "0123abcd".to_owned())]);
    /// let wait = Wait::up_to(Duration::from_secs(300));
    /// let outcome = ci.repo(42).pipelines().run("master", &variables, Some(wait), |p| eprintln!("#{}", p.number)).await?;
    /// if outcome.success() == Some(false) {
    ///     for tail in &outcome.failed_steps {
    ///         eprintln!("--- step {} ---", tail.step.name);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run(
        &self,
        branch: &str,
        variables: &BTreeMap<String, String>,
        wait: Option<Wait>,
        on_started: impl FnOnce(&Pipeline),
    ) -> Result<RunOutcome, Error> {
        self.run_watching(branch, variables, wait, on_started, |_| {}).await
    }

    /// [`Self::run`], telling `on_poll` what each poll of the wait saw (a spinner's status line).
    pub async fn run_watching(
        &self,
        branch: &str,
        variables: &BTreeMap<String, String>,
        wait: Option<Wait>,
        on_started: impl FnOnce(&Pipeline),
        mut on_poll: impl FnMut(&Pipeline) + Send,
    ) -> Result<RunOutcome, Error> {
        let started = self.create(branch, variables).await?;
        on_started(&started);
        let Some(wait) = wait else { return Ok(RunOutcome { started, finished: None, failed_steps: Vec::new() }) };
        let finished = self.wait_watching(started.number, wait.timeout, wait.first_poll, &mut on_poll).await?;
        let failed_steps = if finished.status == crate::Status::Success {
            Vec::new()
        } else {
            self.failed_step_tails(&finished, wait.tail_lines).await
        };
        Ok(RunOutcome { started, finished: Some(finished), failed_steps })
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
        self.wait_watching(number, timeout, first_pause, &mut |_| {}).await
    }

    /// [`Self::wait_polling`], telling `on_poll` what each poll saw.
    pub async fn wait_watching(
        &self,
        number: i64,
        timeout: Duration,
        first_pause: Duration,
        on_poll: &mut (dyn FnMut(&Pipeline) + Send),
    ) -> Result<Pipeline, Error> {
        let start = Instant::now();
        let mut pause = first_pause;
        loop {
            let pipeline = self.get(number).await?;
            tracing::debug!(repo_id = self.repo_id, number, status = %pipeline.status, "pipeline poll");
            on_poll(&pipeline);
            if pipeline.status.is_terminal() {
                return Ok(pipeline);
            }
            if start.elapsed().saturating_add(pause) > timeout {
                return Err(Error::Timeout {
                    repo_id: self.repo_id,
                    number,
                    status: pipeline.status.to_string(),
                    waited_secs: start.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause.saturating_mul(3) / 2).min(Duration::from_secs(10).max(first_pause));
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
        let raw: Vec<RawLogEntry> = self
            .http
            .json(&Request::get(format!("/repos/{}/logs/{number}/{step_id}", self.repo_id)).max_body(STEP_LOG_MAX))
            .await?;
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
