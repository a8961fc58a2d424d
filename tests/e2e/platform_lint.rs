//! Every workflow file we write or ship, checked by the platforms' own linters: zizmor (its default
//! persona, offline) and the GitHub workflow schema (schemastore's, as check-jsonschema vendors it) for
//! GitHub Actions, Woodpecker's own pipeline schema (specs/woodpecker-pipeline-schema.json) for the deploy
//! pipeline. Each check also fails on a planted mistake, so a linter that passes everything is caught.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use offinfra::onboard::{render, Settings, BUILD_TEMPLATE, DEPLOY_TEMPLATE};
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
fn rendered() -> Vec<(String, String)> {
    let mut settings =
        Settings::new("viktor/app".parse().unwrap(), "https://forgejo.viktorbarzin.me", "https://ci.viktorbarzin.me");
    settings.github_repo = Some("ViktorBarzin/app".parse().unwrap());
    settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    let digest = "ab".repeat(32);
    settings.deploy_image = Some(format!("ghcr.io/viktorbarzin/offinfra-deploy:{}@sha256:{digest}", offinfra::VERSION));
    let plain = settings.config().unwrap();
    settings.slack_secret = Some("slack_webhook".into());
    settings.service_account = Some("deployer".into());
    let full = settings.config().unwrap();
    vec![
        ("build.yml".into(), render(BUILD_TEMPLATE, &plain).unwrap()),
        ("deploy.yml".into(), render(DEPLOY_TEMPLATE, &plain).unwrap()),
        ("deploy-slack-sa.yml".into(), render(DEPLOY_TEMPLATE, &full).unwrap()),
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
    let build = write("build.yml", &files[0].1);
    passes("zizmor on the build workflow", &zizmor(&build));
    passes("the GitHub schema on the build workflow", &schema(&build, GITHUB));
    let woodpecker = woodpecker();
    let woodpecker: Vec<&str> = woodpecker.iter().map(String::as_str).collect();
    for (name, text) in &files[1..] {
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
    std::fs::write(&bad_step, files[1].1.replace("    entrypoint:", "    entry_point:")).unwrap();
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
