//! The Forgejo client against wiremock servers whose fixtures follow the official spec, in one binary.

mod contract;
mod hooks_repos;
mod mirrors_contents;
mod misc;
mod support;
mod tags;
mod wire;
