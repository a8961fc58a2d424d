//! offinfra: build off-infra, deploy in-cluster, with typed Rust instead of shell, curl and kubectl glue.
//!
//! This facade re-exports the workspace crates so that a tool can depend on one crate:
//!
//! - [`svu`]: the next semantic version from conventional commits (a pure-Rust svu v3).
//! - [`forgejo_client`]: the Forgejo REST API (version, repos, tags, hooks, push mirrors, contents, …).
//! - [`woodpecker_client`]: the Woodpecker CI API (lookup, activation, pipelines, logs, secrets, crons).
//! - [`ghcr_client`]: OCI image layouts, registry push and reads, GitHub Packages versions, prune plans.
//! - [`deployer`]: kubectl's set image, rollout status and rollout undo on kube-rs.
//! - [`http`]: the HTTP plumbing the clients share.
//! - [`types`]: the inputs parsed once (repository names, commit ids, image names and references, tags).
//!
//! and composes them into the pipeline's jobs, which the example binaries run as CI steps:
//!
//! - [`flow`]: version, tag, push, prune and deploy as one typed plan and a runner over swappable seams.
//! - [`onboard`]: put a repository on the pipeline (mirror, pipeline files, activation, default branch).
//! - [`doctor`]: health checks with evidence and safe fixes.
//! - [`secrets`]: Woodpecker secrets kept in step with Vault KV v2.
//! - [`build_image`]: images assembled without a daemon (files on a base), reproducibly.
//! - [`forgejo_registry`]: Forgejo's container registry cleaned image by image (index children kept).
//! - [`prune`], [`notify`], [`ci`]: prune planning from live data, Slack results, GitHub Actions outputs.
//! - `cli` (feature `cli`, on by default): the example binaries' command lines as clap argument groups,
//!   for tools that take the same flags.
//!
//! ```no_run
//! let repo = offinfra::svu::Repository::discover(".")?;
//! let next = repo.compute(&offinfra::svu::Options::default())?;
//! println!("v{}", next.version);
//! # Ok::<(), offinfra::svu::Error>(())
//! ```

pub mod build_image;
pub mod ci;
#[cfg(feature = "cli")]
pub mod cli;
pub mod copy;
pub mod doctor;
pub mod error;
pub mod flow;
pub mod forgejo_registry;
pub mod notify;
pub mod onboard;
pub mod prune;
pub mod secrets;

pub use error::{Error, ResultExt};

/// The version of this build: `OFFINFRA_VERSION` when the build set it (the release workflow sets it to
/// the tag being released), else the crate's version. The examples print it for `--version`, and onboard
/// pins the workflow's binaries and deploy image to it.
pub const VERSION: &str = match option_env!("OFFINFRA_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

pub use deployer;
pub use forgejo_client;
pub use ghcr_client;
pub use offinfra_http as http;
pub use offinfra_types as types;
pub use svu;
pub use woodpecker_client;

/// Every parser that takes outside input, fed arbitrary text: an answer or an error, never a panic.
#[cfg(test)]
mod hostile_input {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parsers_never_panic(text in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for input in [text.as_str(), lossy.as_str()] {
                let _ = crate::types::ImageRef::parse(input);
                let _ = crate::types::ImageName::parse(input);
                let _ = crate::types::Tag::parse(input);
                let _ = crate::types::RepoName::parse(input);
                let _ = crate::types::RepoName::from_remote_url(input);
                let _ = crate::types::CommitId::parse(input);
                #[cfg(feature = "cli")]
                let _ = crate::cli::parse_duration(input);
                let _ = crate::types::Digest::parse(input);
                let _ = crate::types::Reference::parse(input);
                let _ = crate::http::scope::host_of(input);
                let _ = crate::http::CredentialScope::new("t".to_owned().into()).allow(input).allows(input);
                let _ = crate::ghcr_client::registry::push::upload_offset(input);
                let _ = input.parse::<crate::ghcr_client::layout::PlatformSpec>();
                let _ = crate::copy::Endpoint::parse(input);
                let _ = crate::deployer::set_image::parse_pairs(&[input.to_owned()]);
                let _ = crate::forgejo_registry::check_registry_host("https://git.example.com", Some(input), false);
                if let Ok(registry) = crate::ghcr_client::registry::Registry::builder("127.0.0.1:5000").build() {
                    let _ = registry.image(input);
                }
                let _ = crate::ghcr_client::registry::parse_challenge(input);
                let _ = crate::http::link::next_link(input);
                let _ = crate::svu::config::parse_yaml(input, std::path::Path::new(".svu.yml"));
                let _ = crate::ghcr_client::registry::auth::realm_may_receive_credentials(
                    &"https://ghcr.io".parse().expect("a URL"),
                    input,
                );
                let safe = crate::ci::neutralise(input);
                prop_assert!(!safe.lines().any(crate::error::tests::runner_would_run), "{:?} -> {:?}", input, safe);
                let mut headers = crate::http::header::HeaderMap::new();
                if let Ok(value) = crate::http::header::HeaderValue::from_str(input) {
                    headers.insert("retry-after", value.clone());
                    headers.insert("x-ratelimit-reset", value.clone());
                    let _ = crate::http::retry::server_delay(&headers, std::time::SystemTime::now());
                    // With the limit exhausted the reset is read too (every value, up to past the clock's end).
                    headers.remove("retry-after");
                    headers.insert("x-ratelimit-remaining", crate::http::header::HeaderValue::from_static("0"));
                    let _ = crate::http::retry::server_delay(&headers, std::time::SystemTime::now());
                    headers.insert("x-ratelimit-remaining", value);
                    let _ = crate::http::retry::server_delay(&headers, std::time::SystemTime::now());
                }
            }
        }

        #[test]
        fn what_repositories_hold_never_panics_onboard_or_doctor(text in "\\PC{0,200}") {
            let _ = crate::onboard::RepoSettings::parse(&text);
            let _ = crate::onboard::intact(&text);
            let _ = crate::onboard::stamp::compare(".offinfra.yml", &text, &crate::onboard::stamped(&text));
            let repo: crate::types::RepoName = "viktor/app".parse().expect("a name");
            let _ = crate::onboard::settings_from_rendered(repo, None, &text, Some(&text), &Default::default());
            let _ = crate::doctor::status::target(&text);
        }

        #[test]
        fn every_accepted_repository_setting_renders_yaml_that_reads_back_as_written(
            command in "[ -~\n\t]{1,60}",
            value in "[ -~]{0,30}",
            user in "[ -~]{1,20}",
        ) {
            let doc = serde_json::json!({
                "lint": [command],
                "registries": [{"registry": "registry.example.com", "username": user, "password_secret": "P"}],
                "images": [{"build_args": {"A": value}, "destinations": ["ghcr.io/acme/app", "registry.example.com/acme/app"]}],
            });
            let Ok(settings) = crate::onboard::RepoSettings::parse(&doc.to_string()) else { return Ok(()) };
            let mut flags = crate::onboard::Settings::new("acme/app".parse().expect("a name"), "https://git.example.com", "https://ci.example.com");
            flags.offinfra_git = Some("https://github.com/acme/offinfra".into());
            flags.deploy_image = Some(format!("ghcr.io/acme/offinfra-deploy:1.0.0@sha256:{}", "ab".repeat(32)));
            let config = flags.config_with(&settings).expect("accepted settings render");
            let text = crate::onboard::render(crate::onboard::BUILD_TEMPLATE, &config).expect("rendered");
            let docs = yaml_rust2::YamlLoader::load_from_str(&text);
            prop_assert!(docs.is_ok(), "{:?}\n{}", docs.err(), text);
            let doc = &docs.expect("YAML")[0];
            let steps = doc["jobs"]["build"]["steps"].as_vec().expect("steps");
            let run = |name: &str| steps.iter().find(|s| s["name"].as_str() == Some(name)).and_then(|s| s["run"].as_str()).map(str::to_owned);
            let lint = run("lint").unwrap_or_default();
            prop_assert_eq!(lint.strip_suffix('\n').unwrap_or(&lint), command.trim(), "{}", text);
            let login = run("log in to registry.example.com").unwrap_or_default();
            prop_assert!(login.starts_with("printf '%s' \"$PASSWORD\" | docker login registry.example.com --username "), "{}", text);
        }

        #[test]
        fn retry_arithmetic_never_overflows(
            reset in any::<u64>(),
            after in any::<u64>(),
            attempt in any::<u32>(),
            elapsed in any::<u64>(),
            status in 100u16..600,
        ) {
            let mut headers = crate::http::header::HeaderMap::new();
            headers.insert("x-ratelimit-remaining", crate::http::header::HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-reset", reset.into());
            headers.insert("retry-after", after.into());
            let status = crate::http::StatusCode::from_u16(status).expect("a status in range");
            let answer = crate::http::retry::Answer { status, headers: &headers, idempotent: true };
            let policy = crate::http::RetryPolicy::default();
            let _ = policy.delay_after(attempt, std::time::Duration::from_secs(elapsed), answer, std::time::SystemTime::now());
            let _ = policy.backoff(attempt, 0.5);
        }

        #[test]
        fn upload_ranges_are_offsets_or_nothing(start in any::<u64>(), end in any::<u64>()) {
            let offset = crate::ghcr_client::registry::push::upload_offset(&format!("{start}-{end}"));
            if let Some(offset) = offset {
                prop_assert!(start == 0 && (offset == 0 || offset == end + 1));
            }
        }

        #[test]
        fn pauses_are_errors_not_panics(pause in any::<f64>()) {
            #[cfg(feature = "cli")]
            {
                use clap::Parser;
                #[derive(clap::Parser)]
                struct Prune {
                    #[command(flatten)]
                    retention: crate::cli::prune::RetentionArgs,
                }
                if let Ok(parsed) = Prune::try_parse_from(["p", &format!("--pause={pause}")]) {
                    let _ = parsed.retention.pause();
                }
            }
            let _ = pause;
        }

        #[test]
        fn durations_are_errors_not_overflows(n in any::<u64>(), unit in prop::sample::select(vec!["s", "m", "h", "d", "ms", ""])) {
            #[cfg(feature = "cli")]
            let _ = crate::cli::parse_duration(&format!("{n}{unit}"));
            let _ = (n, unit);
        }

        #[test]
        fn parsed_values_print_back_what_parses_again(text in "[a-z0-9./:_@-]{1,60}") {
            if let Ok(reference) = crate::types::ImageRef::parse(&text) {
                prop_assert_eq!(crate::types::ImageRef::parse(&reference.to_string()), Ok(reference));
            }
            if let Ok(name) = crate::types::ImageName::parse(&text) {
                prop_assert_eq!(crate::types::ImageName::parse(&name.to_string()), Ok(name));
            }
        }
    }
}
