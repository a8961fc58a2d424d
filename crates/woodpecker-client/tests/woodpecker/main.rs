//! The Woodpecker client against wiremock servers whose fixtures follow the official spec, in one binary.

mod contract;
mod pipelines;
mod repos;
mod secrets;
mod support;
mod wire;
