//! offinfra's own workflows: their structure (triggers, permissions, the steps that call our binaries, with
//! flags the binaries have), and, on demand, a rehearsal of the release's steps against a local registry.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use offinfra_test_support::examples::{example, run_example, text};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workflow(name: &str) -> Yaml {
    let path = root().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}")).remove(0)
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

/// The steps of `job` by id, in order, with their `run:` scripts.
fn steps(file: &Yaml, job: &str) -> Vec<(String, String)> {
    file["jobs"][job]["steps"]
        .as_vec()
        .unwrap_or_else(|| panic!("job {job} has no steps"))
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s["run"].as_str().unwrap_or_default().to_owned())))
        .collect()
}

/// Each invocation of one of our binaries in `script` (continuation lines joined): its name and flags.
fn invocations(script: &str) -> Vec<(String, Vec<String>)> {
    let joined = script.replace("\\\n", " ");
    let call = regex::Regex::new(r#"(?:target/dist/examples/|\$bin/|\b)(flow|svu|push-image|build-image|copy-image|prune-versions|forgejo-cleanup|registry-check|release-tag|trigger-deploy|deploy|onboard|doctor|sync-secrets)"?\s"#).unwrap();
    let mut out = Vec::new();
    for line in joined.lines() {
        let Some(found) = call.captures(line) else { continue };
        let name = found[1].to_owned();
        let rest = &line[found.get(0).unwrap().end()..];
        let flags = rest
            .split_whitespace()
            .filter(|w| w.starts_with("--"))
            .map(|w| w.split('=').next().unwrap().trim_matches('"').to_owned())
            .collect();
        out.push((name, flags));
    }
    out
}

fn assert_flags_exist(name: &str, flags: &[String], context: &str) {
    let help = Command::new(example(name)).arg("--help").output().unwrap();
    let help = text(&help.stdout);
    for flag in flags {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "{context}: {name} has no {flag}"
        );
    }
}

#[test]
fn the_workflows_trigger_permit_and_call_our_binaries_with_flags_that_exist() {
    let ci = workflow("ci.yml");
    assert_eq!(strings(&ci["on"]["push"]["branches"]), ["master"]);
    assert!(!ci["on"]["pull_request"].is_badvalue(), "pull requests are tested");
    assert!(ci["permissions"].as_hash().is_some_and(|p| p.is_empty()), "no permission unless a job asks");
    assert_eq!(ci["jobs"]["test"]["permissions"]["contents"].as_str(), Some("read"), "the tests read only");
    let test_steps = ci["jobs"]["test"]["steps"].as_vec().unwrap();
    assert!(test_steps.iter().any(|s| s["run"].as_str() == Some("bash .ci/run")), "the README's command, via .ci/run");
    assert_eq!(ci["jobs"]["tag"]["needs"].as_str(), Some("test"));
    assert_eq!(ci["jobs"]["tag"]["permissions"]["contents"].as_str(), Some("write"));
    let tagging = &steps(&ci, "tag")[0].1;
    assert!(tagging.contains("gh api \"repos/$GITHUB_REPOSITORY/git/refs\""), "the tag through the API: {tagging}");
    assert!(tagging.contains("target/dist/examples/svu next"), "the next version from our svu: {tagging}");
    assert_eq!(ci["jobs"]["release"]["uses"].as_str(), Some("./.github/workflows/release.yml"));

    let release = workflow("release.yml");
    assert_eq!(strings(&release["on"]["push"]["tags"]), ["v*.*.*"]);
    assert_eq!(release["on"]["workflow_call"]["inputs"]["version"]["required"].as_bool(), Some(true));
    assert!(release["permissions"].as_hash().is_some_and(|p| p.is_empty()), "no permission unless a job asks");
    // The build job runs every dependency's build script: read-only, no cache. Only publish writes.
    let build = &release["jobs"]["build"];
    assert_eq!(build["permissions"]["contents"].as_str(), Some("read"));
    assert!(build["permissions"]["packages"].is_badvalue(), "the build cannot push");
    let publish = &release["jobs"]["publish"];
    assert_eq!(publish["needs"].as_str(), Some("build"));
    assert_eq!(publish["permissions"]["contents"].as_str(), Some("write"), "attach the binaries");
    assert_eq!(publish["permissions"]["packages"].as_str(), Some("write"), "push the deploy image");
    let uses: Vec<String> = ["build", "publish"]
        .iter()
        .flat_map(|job| release["jobs"][*job]["steps"].as_vec().unwrap().iter().filter_map(|s| s["uses"].as_str()))
        .map(str::to_owned)
        .collect();
    assert!(!uses.iter().any(|u| u.contains("cache")), "no build cache in a release: {uses:?}");
    assert!(publish["steps"].as_vec().unwrap().iter().all(|s| s["run"].as_str().is_none_or(|r| !r.contains("cargo"))));
    let base = release["env"]["DEPLOY_BASE"].as_str().unwrap();
    assert!(regex::Regex::new(r"@sha256:[0-9a-f]{64}$").unwrap().is_match(base), "the base by digest: {base}");
    let ids: Vec<String> = steps(&release, "build").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["build", "glibc", "package", "image"]);
    let ids: Vec<String> = steps(&release, "publish").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["attach", "push"]);
    let gate = &steps(&release, "build")[1].1;
    for bin in ["deploy", "sync-secrets", "trigger-deploy", "doctor"] {
        assert!(gate.contains(&format!("\"$bin/{bin}\"")), "the gate checks every binary in the image: {bin}");
    }
    let mut called = BTreeMap::new();
    for (id, run) in steps(&release, "build").into_iter().chain(steps(&release, "publish")) {
        for (name, flags) in invocations(&run) {
            assert_flags_exist(&name, &flags, &format!("release.yml step {id}"));
            called.insert(name, flags);
        }
    }
    assert!(called.contains_key("build-image") && called.contains_key("push-image"), "{called:?}");
    for flag in ["--tag", "--sha"] {
        assert!(called["push-image"].iter().any(|f| f == flag), "push-image {flag}");
    }

    // The workflow onboard writes (as the README shows it) calls flow with flags flow has.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("# Rendered by `offinfra onboard` for viktor/app. Builds").expect("the build workflow");
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let flow: Vec<(String, Vec<String>)> = invocations(block).into_iter().filter(|(n, _)| n == "flow").collect();
    assert!(!flow.is_empty());
    for (name, flags) in flow {
        assert_flags_exist(&name, &flags, "README.md");
    }
}

/// Runs `script` with bash in `dir`.
fn bash(script: &str, dir: &Path, env: &[(&str, String)]) {
    let mut command = Command::new("bash");
    command.args(["-euo", "pipefail", "-c", script]).current_dir(dir);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{script}\n{}{}", text(&out.stdout), text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "builds every example with the dist profile (minutes): cargo test --test e2e release_rehearsal -- --ignored"]
async fn release_rehearsal() {
    use offinfra_test_support::oci::{platform, with, Auth, Builder, LocalRegistry};

    let reg = LocalRegistry::start(Auth::Anonymous);
    let base_dir = tempfile::tempdir().unwrap();
    let b = Builder::new(base_dir.path());
    b.write_index(vec![with(b.image("cc-stand-in", 1), "platform", platform("linux", "amd64"))]);
    let base = format!("{}/base/cc", reg.host());
    let out = run_example(
        "push-image",
        None,
        &["--layout", base_dir.path().to_str().unwrap(), "--repository", &base, "--tag", "1"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let head = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(root()).output().unwrap();
    let sha = text(&head.stdout).trim().to_owned();
    let image = format!("{}/viktorbarzin/offinfra-deploy", reg.host());
    let env = [
        ("VERSION", "v9.9.9".to_owned()),
        ("DEPLOY_BASE", format!("{base}:1")),
        ("IMAGE", image.clone()),
        ("GITHUB_SHA", sha.clone()),
        ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
        ("GITHUB_REPOSITORY", "ViktorBarzin/offinfra".to_owned()),
        ("GITHUB_REPOSITORY_OWNER", "ViktorBarzin".to_owned()),
        ("GITHUB_ACTOR", "rehearsal".to_owned()),
    ];
    // The build in the checkout; the rest in a scratch directory that sees the checkout's target/.
    let release = workflow("release.yml");
    let scripts: BTreeMap<String, String> =
        steps(&release, "build").into_iter().chain(steps(&release, "publish")).collect();
    bash(&scripts["build"], &root(), &env);
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("target"), work.path().join("target")).unwrap();
    for id in ["package", "image"] {
        bash(&scripts[id], work.path(), &env);
    }
    // The publish job runs from the build's artifact (release/), nothing else of the checkout.
    let published = tempfile::tempdir().unwrap();
    bash(&format!("cp -r {}/release {}/", work.path().display(), published.path().display()), work.path(), &env);
    bash(&scripts["push"], published.path(), &env);

    // The archive holds every binary; the three tags name one image.
    let listing = Command::new("tar")
        .args(["-tzf", "release/offinfra-v9.9.9-x86_64-linux-gnu.tar.gz"])
        .current_dir(published.path())
        .output()
        .unwrap();
    for bin in ["./flow", "./svu", "./deploy", "./build-image", "./push-image", "./onboard", "./doctor"] {
        assert!(text(&listing.stdout).lines().any(|l| l == bin), "{bin} in {}", text(&listing.stdout));
    }
    let registry = offinfra::ghcr_client::registry::Registry::builder(&reg.host()).build().unwrap();
    let repository = &registry.image("viktorbarzin/offinfra-deploy").unwrap();
    let at = |reference: &str| reference.parse::<offinfra::types::Reference>().unwrap();
    let digest = registry.manifest_digest(repository, &at("9.9.9")).await.unwrap().expect(":9.9.9");
    for tag in ["latest", &sha[..8]] {
        assert_eq!(registry.manifest_digest(repository, &at(tag)).await.unwrap(), Some(digest.clone()), "{tag}");
    }

    // deploy runs from the pushed image's layer, and knows its version.
    let manifest = registry.manifest(repository, &digest.clone().into()).await.unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().parse().unwrap();
    let mut blob = Vec::new();
    registry.pull_blob(repository, &layer, &mut blob).await.unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(blob.as_slice())).unpack(unpacked.path()).unwrap();
    let deploy = unpacked.path().join("usr/local/bin/deploy");
    let help = Command::new(&deploy).arg("--help").output().unwrap();
    assert!(
        help.status.success() && text(&help.stdout).contains("Set the image of a workload"),
        "{}",
        text(&help.stderr)
    );
    let version = Command::new(&deploy).arg("--version").output().unwrap();
    assert_eq!(text(&version.stdout), "deploy 9.9.9\n");

    // onboard's deploy pipeline names the repository and tag scheme the push step uses.
    let default = regex::Regex::new(r#"image="\$\{IMAGE:-(.+)\}""#).unwrap();
    let default = default.captures(&scripts["push"]).expect("the push step's default image")[1].to_owned();
    let evaluated = Command::new("bash")
        .args(["-c", &format!("echo \"{default}:${{VERSION#v}}\"")])
        .env("GITHUB_REPOSITORY_OWNER", "ViktorBarzin")
        .env("VERSION", format!("v{}", offinfra::VERSION))
        .output()
        .unwrap();
    assert_eq!(
        offinfra::onboard::released_deploy_image("https://github.com/ViktorBarzin/offinfra"),
        Some(text(&evaluated.stdout).trim().to_owned())
    );
}

/// The release's glibc gate: a binary that needs a newer glibc than the base fails it, naming the
/// versions; the same binary passes against this machine's glibc, which it was linked with.
#[test]
fn the_glibc_gate_fails_a_binary_that_needs_a_newer_glibc_than_the_base() {
    let gate = root().join(".github/scripts/glibc-gate.sh");
    let deploy = example("deploy");
    let run = |max: &str, bin: &Path| Command::new("bash").arg(&gate).arg(max).arg(bin).output().unwrap();
    // Linked here against glibc >= 2.34 (__libc_start_main@GLIBC_2.34): too new for a 2.31 base.
    let out = run("2.31", &deploy);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stderr);
    assert!(said.contains("GLIBC_2.34, newer") && said.contains("newer than the base's glibc 2.31"), "{said}");
    let here = Command::new("getconf").arg("GNU_LIBC_VERSION").output().unwrap();
    let here = text(&here.stdout).trim().trim_start_matches("glibc ").to_owned();
    let out = run(&here, &deploy);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("(base: {here})")), "{}", text(&out.stdout));
    // Not a binary: an error, not a pass.
    let out = run(&here, &root().join("README.md"));
    assert_eq!(out.status.code(), Some(1));
}
