//! svu on real git repositories made in temp dirs (`offinfra_test_support::git`), in one binary.

mod git_log_baseline;
mod history;
