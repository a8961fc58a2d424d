//! What `--help` shows about secrets: never a value from the environment, and for every flag that takes a
//! credential, advice to pass it through its variable (a flag shows in the process list).

use offinfra_test_support::examples::{run_example, text};

const EXAMPLES: [&str; 14] = [
    "build-image",
    "copy-image",
    "deploy",
    "doctor",
    "flow",
    "forgejo-cleanup",
    "onboard",
    "prune-versions",
    "push-image",
    "registry-check",
    "release-tag",
    "sync-secrets",
    "trigger-deploy",
    "svu",
];

/// Variables that hold a credential, each set to a value that must never be printed.
const SECRETS: [&str; 11] = [
    "GITHUB_TOKEN",
    "FORGEJO_TOKEN",
    "WOODPECKER_TOKEN",
    "VAULT_TOKEN",
    "REGISTRY_PASSWORD",
    "SRC_CREDS",
    "DEST_CREDS",
    "FROM_CREDS",
    "SLACK_WEBHOOK",
    "GITHUB_MIRROR_TOKEN",
    "WOODPECKER_GITHUB_TOKEN",
];

#[test]
fn help_never_shows_a_secret_and_says_to_prefer_the_variable() {
    let env: Vec<(String, String)> = SECRETS.iter().map(|name| (name.to_string(), format!("s3cret-{name}"))).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for example in EXAMPLES {
        let out = run_example(example, None, &["--help"], &env);
        let help = text(&out.stdout);
        assert!(out.status.success() && !help.is_empty(), "{example} --help: {}", text(&out.stderr));
        assert!(!help.contains("s3cret-"), "{example} --help shows a secret:\n{help}");
        // Each option whose variable holds a credential says to prefer the variable (or is not shown).
        // One entry per option: from a line that starts (after indentation) with `-` to the next such line.
        let mut options: Vec<String> = Vec::new();
        for line in help.lines() {
            match (line.trim_start().starts_with('-'), options.last_mut()) {
                (false, Some(current)) => current.push_str(&format!("\n{line}")),
                _ => options.push(line.to_owned()),
            }
        }
        let credential_options =
            options.iter().filter(|o| SECRETS.iter().any(|n| o.contains(&format!("[env: {n}")))).count();
        if matches!(example, "flow" | "sync-secrets" | "trigger-deploy") {
            assert!(credential_options > 0, "{example}: its credential options were not found in:\n{help}");
        }
        for option in &options {
            let secret = SECRETS.iter().find(|name| option.contains(&format!("[env: {name}")));
            if let Some(name) = secret {
                let advice = option.contains("prefer") || option.contains("stdin");
                assert!(
                    advice,
                    "{example}: the option reading {name} does not say to prefer the variable:\n  -{option}"
                );
            }
        }
    }
}
