/// Everything that can go wrong talking to Woodpecker. Each variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request failed or the server answered with an error (status and text body kept; Woodpecker's
    /// error bodies are plain text).
    #[error(transparent)]
    Http(#[from] offinfra_http::Error),
    /// `POST /repos/{id}/pipelines` answered 204 `Pipeline-Filtered`: no workflow runs for a manual
    /// event on that branch, so nothing was started.
    #[error("no pipeline was started for repo {repo_id} on branch {branch}: every workflow was filtered out (204 Pipeline-Filtered); check the workflows' `when` (it must allow `event: manual`), and that `when.evaluate` does not depend on the variables (Woodpecker 3.18.0 does not see them there)")]
    PipelineFiltered {
        /// The repository id.
        repo_id: i64,
        /// The branch asked for.
        branch: String,
    },
    /// The pipeline did not finish in time.
    #[error("pipeline #{number} of repo {repo_id} is still {status} after {waited_secs} s{}", if .status == "blocked" { " (blocked: it waits for approval)" } else { "" })]
    Timeout {
        /// The repository id.
        repo_id: i64,
        /// The pipeline number.
        number: i64,
        /// Its last status.
        status: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// A log line's `data` is not base64.
    #[error("log of step {step_id} has a line that is not base64")]
    BadLog {
        /// The step id.
        step_id: i64,
    },
}
