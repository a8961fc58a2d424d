//! The whole deploy as one policy: kubectl's `set image`, then `rollout status`, then, on failure and
//! when asked, `rollout undo` and a wait for that. The CI step (`deploy`) and any other tool get the same
//! behaviour and kubectl's lines, without copying it.

use std::time::Duration;

use crate::{set_image::ImagePair, Deployer, Error, Kind, UndoOutcome, WaitOutcome};

/// What a failed rollout leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Leave it as it is (kubectl's behaviour).
    #[default]
    Stop,
    /// Roll back: a Deployment to its previous revision (`kubectl rollout undo`), the other kinds to the
    /// images their containers had before (they keep no history), then wait for that rollout.
    RollBack,
}

/// One deploy: which object, which images, how long to wait, what a failure leads to.
#[derive(Debug, Clone, Copy)]
pub struct RollOut<'a> {
    /// The kind of object.
    pub kind: Kind,
    /// Its name, in the deployer's namespace.
    pub name: &'a str,
    /// `container=image` pairs (kubectl's rules, see [`crate::set_image::parse_pairs`]).
    pub images: &'a [ImagePair],
    /// How long each wait may take (`None`: for ever).
    pub timeout: Option<Duration>,
    /// What a failed rollout leads to.
    pub on_failure: OnFailure,
}

/// A line as kubectl prints it, newline included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A standard-output line (`deployment.apps/web image updated`, the rollout status lines).
    Out(&'a str),
    /// A standard-error line (`error: …`).
    Err(&'a str),
}

/// How a deploy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollOutcome {
    /// The new images rolled out.
    pub rolled_out: bool,
    /// Why not, when not (kubectl's error text, and what the rollback did).
    pub reason: String,
}

impl Deployer {
    /// Sets the images and waits for the rollout as `kubectl set image` + `kubectl rollout status` do,
    /// printing kubectl's lines through `emit`; on a failed rollout, [`OnFailure::RollBack`] restores the
    /// previous state and waits for that too. A container that matches no name is reported the way
    /// kubectl reports it, and the other containers are still updated. Errors are what the API server
    /// refused (a missing object is kubectl's NotFound).
    ///
    /// ```no_run
    /// use deployer::{roll_out::{Line, OnFailure, RollOut}, set_image::parse_pairs, Deployer, Kind};
    ///
    /// # async fn run() -> Result<(), deployer::Error> {
    /// let deployer = Deployer::infer(Some("prod")).await?;
    /// let images = parse_pairs(&["app=ghcr.io/acme/app:0123abcd".to_owned()]).expect("container=image");
    /// let spec = RollOut {
    ///     kind: Kind::Deployment,
    ///     name: "web",
    ///     images: &images,
    ///     timeout: Some(std::time::Duration::from_secs(300)),
    ///     on_failure: OnFailure::RollBack,
    /// };
    /// let outcome = deployer
    ///     .roll_out(&spec, &mut |line| match line {
    ///         Line::Out(text) => print!("{text}"),
    ///         Line::Err(text) => eprint!("{text}"),
    ///     })
    ///     .await?;
    /// assert!(outcome.rolled_out, "{}", outcome.reason);
    /// # Ok(()) }
    /// ```
    pub async fn roll_out(
        &self,
        spec: &RollOut<'_>,
        emit: &mut (dyn FnMut(Line<'_>) + Send),
    ) -> Result<RollOutcome, Error> {
        let target = format!("{}/{}", spec.kind.resource(), spec.name);
        let report = match self.set_image(spec.kind, spec.name, spec.images, false).await {
            Ok(report) => report,
            Err(Error::MissingContainers { errors, applied }) => {
                if applied {
                    emit(Line::Out(&format!("{target} image updated\n")));
                }
                for error in &errors {
                    emit(Line::Err(&format!("error: {error}\n")));
                }
                return Ok(RollOutcome { rolled_out: false, reason: errors.join("; ") });
            }
            Err(e) => return Err(e),
        };
        if report.applied {
            emit(Line::Out(&format!("{target} image updated\n")));
        }
        // Asked to deploy, not for a status: a kind without one is done once its template has the image.
        if !spec.kind.has_rollout_status() {
            emit(Line::Out(&format!("{target}: no rollout to wait for (its next pods start with the new image)\n")));
            return Ok(RollOutcome { rolled_out: true, reason: String::new() });
        }
        let mut reason = match self.wait_printing(spec, emit).await? {
            WaitOutcome::RolledOut(_) => return Ok(RollOutcome { rolled_out: true, reason: String::new() }),
            WaitOutcome::TimedOut(_) => "timed out waiting for the condition".to_owned(),
            WaitOutcome::Failed(reason) => reason,
        };
        emit(Line::Err(&format!("error: {reason}\n")));
        if spec.on_failure == OnFailure::RollBack && report.applied {
            self.roll_back(spec, &report.plan.changes, emit).await?;
            reason += match self.wait_printing(spec, emit).await? {
                WaitOutcome::RolledOut(_) => "; rolled back",
                WaitOutcome::TimedOut(_) => {
                    emit(Line::Err("error: the rollback timed out waiting for the condition\n"));
                    "; the rollback timed out"
                }
                WaitOutcome::Failed(failed) => {
                    emit(Line::Err(&format!("error: the rollback failed: {failed}\n")));
                    "; the rollback failed"
                }
            };
        }
        Ok(RollOutcome { rolled_out: false, reason })
    }

    /// [`Deployer::wait`] with kubectl's status lines going to `emit`.
    async fn wait_printing(
        &self,
        spec: &RollOut<'_>,
        emit: &mut (dyn FnMut(Line<'_>) + Send),
    ) -> Result<WaitOutcome, Error> {
        let mut print = |line: &str| emit(Line::Out(line));
        self.wait(spec.kind, spec.name, spec.timeout, &mut print).await
    }

    /// A Deployment goes back to its previous revision as `kubectl rollout undo` does; the other kinds
    /// keep no history, so their containers get the images they had before (`changes`: container, old
    /// image, new image).
    async fn roll_back(
        &self,
        spec: &RollOut<'_>,
        changes: &[(String, String, String)],
        emit: &mut (dyn FnMut(Line<'_>) + Send),
    ) -> Result<(), Error> {
        let target = format!("{}/{}", spec.kind.resource(), spec.name);
        if spec.kind == Kind::Deployment {
            let line = match self.undo(spec.name, 0).await? {
                UndoOutcome::RolledBack { .. } => format!("{target} rolled back\n"),
                UndoOutcome::Skipped { revision } => {
                    format!("{target} skipped rollback (current template already matches revision {revision})\n")
                }
            };
            emit(Line::Out(&line));
            return Ok(());
        }
        let previous: Vec<ImagePair> = changes
            .iter()
            .map(|(container, old, _)| ImagePair { container: container.clone(), image: old.clone() })
            .collect();
        self.set_image(spec.kind, spec.name, &previous, false).await?;
        emit(Line::Out(&format!("{target} rolled back\n")));
        Ok(())
    }
}
