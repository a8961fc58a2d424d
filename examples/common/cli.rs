//! The `main` every async example shares: parse (help and version exit 0, usage errors 2), then run on
//! a multi-thread runtime (`Ok(true)` exits 0, `Ok(false)` 1, an error prints `error: …` and exits 1).

use std::{future::Future, process::ExitCode};

pub fn run_main<A: clap::Parser, F: Future<Output = Result<bool, String>>>(run: impl FnOnce(A) -> F) -> ExitCode {
    match A::try_parse() {
        Ok(args) => offinfra::ci::run_async(run(args)),
        Err(e) => {
            let _ = e.print();
            offinfra::ci::usage_exit(e.use_stderr())
        }
    }
}
