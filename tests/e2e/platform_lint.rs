//! Every workflow file we write or ship, checked by the platforms' own linters: zizmor (its default
//! persona, offline) and the GitHub workflow schema (schemastore's, as check-jsonschema vendors it) for
//! GitHub Actions, Woodpecker's own pipeline schema (specs/woodpecker-pipeline-schema.json) for the deploy
//! pipeline. Each check also fails on a planted mistake, so a linter that passes everything is caught.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use offinfra::onboard::{render, stamped, RepoSettings, Settings, BUILD_TEMPLATE, DEPLOY_TEMPLATE};
use offinfra_test_support::examples::text;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A linter `cargo xtask` installed (`OFFINFRA_LINT_DIR`, else its cache directories).
fn linter(name: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = match std::env::var_os("OFFINFRA_LINT_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => vec![dir.into()],
        None => {
            let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/offinfra-lint"));
            let bases = [Some(PathBuf::from("/var/cache/offinfra-lint")), home];
            bases
                .into_iter()
                .flatten()
                .filter_map(|b| std::fs::read_dir(b).ok())
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect()
        }
    };
    dirs.iter().map(|d| d.join("bin").join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{name} is not installed: `cargo xtask test-env up` installs it (docs/DEVELOPMENT.md)")
    })
}

fn zizmor(file: &Path) -> Output {
    Command::new(linter("zizmor")).args(["--offline", "--no-progress"]).arg(file).output().unwrap()
}

fn schema(file: &Path, schema: &[&str]) -> Output {
    Command::new(linter("check-jsonschema")).args(schema).arg(file).output().unwrap()
}

const GITHUB: &[&str] = &["--builtin-schema", "vendor.github-workflows"];

fn woodpecker() -> Vec<String> {
    vec!["--schemafile".into(), root().join("specs/woodpecker-pipeline-schema.json").display().to_string()]
}

fn passes(what: &str, out: &Output) {
    assert!(out.status.success(), "{what}:\n{}{}", text(&out.stdout), text(&out.stderr));
}

fn fails(what: &str, out: &Output, finding: &str) {
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success() && said.contains(finding), "{what} should fail with {finding}:\n{said}");
}

/// The files onboard writes for the fleet's viktor/app (mirror ViktorBarzin/app), plain and with Slack and
/// a service account.
/// A `.offinfra.yml` that uses every setting, with text that needs quoting for YAML and the shell.
const EVERY_SETTING: &str = r#"lint:
  - cargo fmt --check
  - |
    cargo clippy --all-targets -- -D warnings
    echo 'lint: done' # a comment
test: cargo test --workspace
registries:
  - {registry: docker.io, username: "o'brien", password_secret: DOCKERHUB_TOKEN}
  - {registry: "registry.example.com:5000", username: ci, password_secret: PRIVATE_TOKEN}
images:
  - dockerfile: docker/app.Dockerfile
    build_args: {A: "x y", B: "it's"}
    destinations: [ghcr.io/viktorbarzin/app, docker.io/viktorbarzin/app]
  - context: tools
    destinations: ["registry.example.com:5000/viktor/tools"]
workload: {kind: statefulset, containers: [app, worker]}
"#;

/// What onboard writes: the plain build and deploy files, the deploy step with Slack and a service account,
/// both files rendered from a `.offinfra.yml` that uses every setting (lint and test scripts, registry
/// logins, several images with build arguments and destinations, a StatefulSet of two containers), and the
/// workflow of a CronJob-only app.
fn rendered() -> Vec<(String, String)> {
    let mut settings =
        Settings::new("viktor/app".parse().unwrap(), "https://forgejo.viktorbarzin.me", "https://ci.viktorbarzin.me");
    settings.github_repo = Some("ViktorBarzin/app".parse().unwrap());
    settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    let digest = "ab".repeat(32);
    settings.deploy_image = Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:{}@sha256:{digest}", offinfra::VERSION));
    let plain = settings.config().unwrap();
    let repo_file = RepoSettings::parse(EVERY_SETTING).unwrap();
    let from_file = settings.config_with(&repo_file).unwrap();
    let cron_only = settings.config_with(&RepoSettings::parse("workload: {kind: cronjob}").unwrap()).unwrap();
    settings.slack_secret = Some("slack_webhook".into());
    settings.service_account = Some("deployer".into());
    let full = settings.config().unwrap();
    let write = |template, config| stamped(&render(template, config).unwrap());
    vec![
        ("build.yml".into(), write(BUILD_TEMPLATE, &plain)),
        ("build-from-settings.yml".into(), write(BUILD_TEMPLATE, &from_file)),
        ("build-cronjob-only.yml".into(), write(BUILD_TEMPLATE, &cron_only)),
        ("deploy.yml".into(), write(DEPLOY_TEMPLATE, &plain)),
        ("deploy-slack-sa.yml".into(), write(DEPLOY_TEMPLATE, &full)),
        ("deploy-from-settings.yml".into(), write(DEPLOY_TEMPLATE, &from_file)),
    ]
}

#[test]
fn what_onboard_writes_passes_zizmor_and_both_schemas_and_planted_mistakes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let write = |name: &str, text: &str| {
        let path = workflows.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let files = rendered();
    let (builds, deploys) = files.split_at(3);
    for (name, text) in builds {
        let build = write(name, text);
        passes(&format!("zizmor on {name}"), &zizmor(&build));
        passes(&format!("the GitHub schema on {name}"), &schema(&build, GITHUB));
    }
    let woodpecker = woodpecker();
    let woodpecker: Vec<&str> = woodpecker.iter().map(String::as_str).collect();
    for (name, text) in deploys {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        passes(&format!("Woodpecker's schema on {name}"), &schema(&path, &woodpecker));
    }

    // Planted mistakes, one per check.
    let leaky = write(
        "leaky.yml",
        &files[0].1.replace(
            "          persist-credentials: false # no token in .git/config, so none in the build context either\n",
            "",
        ),
    );
    fails("a checkout that keeps its credentials", &zizmor(&leaky), "artipacked");
    let movable = write(
        "movable.yml",
        &files[0]
            .1
            .replace("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v4"),
    );
    fails("an action by a movable tag", &zizmor(&movable), "unpinned-uses");
    let misspelt = write("misspelt.yml", &files[0].1.replace("    runs-on: ubuntu-24.04", "    run-on: ubuntu-24.04"));
    fails("a misspelt runs-on", &schema(&misspelt, GITHUB), "runs-on");
    let bad_step = dir.path().join("bad-step.yml");
    std::fs::write(&bad_step, deploys[0].1.replace("    entrypoint:", "    entry_point:")).unwrap();
    fails("a misspelt entrypoint", &schema(&bad_step, &woodpecker), "entry_point");
}

#[test]
fn our_own_workflows_pass_zizmor_and_the_github_schema() {
    for name in ["ci.yml", "release.yml"] {
        let path = root().join(".github/workflows").join(name);
        passes(&format!("zizmor on {name}"), &zizmor(&path));
        passes(&format!("the GitHub schema on {name}"), &schema(&path, GITHUB));
    }
    let dependabot = root().join(".github/dependabot.yml");
    passes("zizmor on dependabot.yml", &zizmor(&dependabot));
    passes("the Dependabot schema", &schema(&dependabot, &["--builtin-schema", "vendor.dependabot"]));
}

#[test]
fn the_rendered_steps_run_in_the_runners_shell_with_each_word_as_written() {
    // The workflow names `shell: bash`, which GitHub runs as `bash --noprofile --norc -eo pipefail {0}`
    // (workflow syntax, jobs.<job_id>.steps[*].shell; unnamed it would be `bash -e {0}`). The tools are
    // stand-ins that print their arguments, one per line, and what they read on stdin.
    let files = rendered();
    let build = &files.iter().find(|(name, _)| name == "build-from-settings.yml").unwrap().1;
    let doc = &yaml_rust2::YamlLoader::load_from_str(build).unwrap()[0];
    assert_eq!(doc["jobs"]["build"]["defaults"]["run"]["shell"].as_str(), Some("bash"));
    let bin = tempfile::tempdir().unwrap();
    for tool in ["docker", "push-image", "cargo"] {
        let path = bin.path().join(tool);
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' {tool} \"$@\"\ninput=$(cat); if [ -n \"$input\" ]; then printf 'stdin=%s\\n' \"$input\"; fi\n"
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let run = |name: &str| {
        let steps = doc["jobs"]["build"]["steps"].as_vec().unwrap();
        let step = steps.iter().find(|s| s["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("{name}: {build}"));
        let script = step["run"].as_str().unwrap();
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .env("PATH", &path)
            .env("PASSWORD", "pw-from-secret")
            .env("GITHUB_TOKEN", "gh-token")
            .env("GITHUB_SHA", "0123abcd4567")
            .env("GITHUB_ACTOR", "viktor")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(run("lint (1)"), "cargo\nfmt\n--check\n");
    assert_eq!(run("lint (2)"), "cargo\nclippy\n--all-targets\n--\n-D\nwarnings\nlint: done\n");
    assert_eq!(
        run("log in to docker.io"),
        "docker\nlogin\ndocker.io\n--username\no'brien\n--password-stdin\nstdin=pw-from-secret\n"
    );
    let app = run("build ghcr.io/viktorbarzin/app (linux/amd64, one manifest, no attestations)");
    assert!(app.contains("\n--file\ndocker/app.Dockerfile\n--build-arg\nA=x y\n--build-arg\nB=it's\n"), "{app}");
    assert!(app.ends_with("--output\ntype=oci,dest=image.tar\n.\n"), "{app}");
    let tools = run("build registry.example.com:5000/viktor/tools (linux/amd64, one manifest, no attestations)");
    assert!(tools.ends_with("--output\ntype=oci,dest=image-2.tar\ntools\n"), "{tools}");
    let hub = run("push docker.io/viktorbarzin/app");
    assert_eq!(hub, "push-image\n--layout\nimage.tar\n--repository\ndocker.io/viktorbarzin/app\n--sha\n0123abcd4567\n--tag\nlatest\n");
}
