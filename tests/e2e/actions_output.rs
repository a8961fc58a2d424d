//! GitHub Actions-native output: inside Actions (`GITHUB_ACTIONS=true`, with the output and summary files)
//! each example masks the secrets it reads, annotates failures and findings (at their file and line),
//! notices what it changed and writes a step summary; outside Actions none of that appears.

use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::oci::{platform, with, Auth, Builder, LocalRegistry, PASSWORD, USER};

/// The workflow-command lines of `stderr`.
fn commands(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("::")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_actions_examples_mask_annotate_notice_and_summarise_and_outside_they_do_not() {
    let reg = LocalRegistry::start(Auth::Basic);
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    b.write_index(vec![with(b.image("app", 1), "platform", platform("linux", "amd64"))]);
    let repository = format!("{}/acme/app", reg.host());
    let gh = tempfile::tempdir().unwrap();
    let (output, summary) = (gh.path().join("output"), gh.path().join("summary"));
    let actions = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("REGISTRY_USERNAME", USER),
        ("REGISTRY_PASSWORD", PASSWORD),
    ];
    let push = |env: &[(&str, &str)], layout: &std::path::Path| {
        let args = ["--layout", layout.to_str().unwrap(), "--repository", repository.as_str(), "--tag", "v1"];
        run_example("push-image", None, &args, env)
    };

    // push-image: the password masked, the push noticed, a summary section, the digest as an output.
    let out = push(&actions, src.path());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let digest = text(&out.stdout).trim().to_owned();
    let lines = commands(&stderr);
    assert_eq!(lines.first(), Some(&format!("::add-mask::{PASSWORD}").as_str()), "masked before anything: {stderr}");
    assert!(lines.contains(&format!("::notice::pushed {repository}@{digest}").as_str()), "{stderr}");
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.starts_with("### push-image\n"), "{written}");
    assert!(written.contains(&format!("| digest | {digest} |")), "{written}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), format!("digest={digest}\n"));

    // build-image and copy-image (to layouts): a notice and a summary section each.
    let layouts = tempfile::tempdir().unwrap();
    let layer_file = layouts.path().join("file");
    std::fs::write(&layer_file, b"x").unwrap();
    let add = format!("{}:/file", layer_file.display());
    let built = format!("oci:{}", layouts.path().join("built").display());
    let copied = format!("oci:{}", layouts.path().join("copied").display());
    let source = format!("{repository}:v1");
    let creds = format!("{USER}:{PASSWORD}");
    let mut copy_env = actions.to_vec();
    copy_env.push(("SRC_CREDS", creds.as_str()));
    for (name, args, env) in [
        ("build-image", vec!["--from", "scratch", "--add", add.as_str(), "--output", built.as_str()], &actions[..]),
        ("copy-image", vec![source.as_str(), copied.as_str()], &copy_env[..]),
    ] {
        let out = run_example(name, None, &args, env);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(commands(&stderr).iter().any(|l| l.starts_with("::notice::")), "{name}: {stderr}");
        assert!(std::fs::read_to_string(&summary).unwrap().contains(&format!("### {name}\n")), "{name}");
    }

    // A failure: an error annotation with the message on one line.
    let empty = tempfile::tempdir().unwrap();
    let out = push(&actions, empty.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let error =
        commands(&stderr).into_iter().find(|l| l.starts_with("::error::")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(error.contains("is not an OCI image layout"), "{error}");

    // doctor: a finding annotated at its file and line.
    let pipelines = tempfile::tempdir().unwrap();
    let file = pipelines.path().join("deploy.yml");
    std::fs::write(&file, "when:\n  - event: manual\nsteps:\n  - name: deploy\n    image: x\n    commands:\n      - kubectl set image deployment/app app=${IMAGE_NAME}:${IMAGE_TAG}\n").unwrap();
    let out = run_example("doctor", None, &["--lint", file.to_str().unwrap()], &actions);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected =
        format!("::error file={},line=7::lint {} quoting: quote these commands whole", file.display(), file.display());
    assert!(stderr.lines().any(|l| l.starts_with(&expected)), "{stderr}");

    // On a pipe, outside Actions: a line per blob and the summary, nothing else (no bars, no commands).
    let out = push(&[("REGISTRY_USERNAME", USER), ("REGISTRY_PASSWORD", PASSWORD)], src.path());
    assert!(out.status.success());
    let blob_line = regex::Regex::new(r"^(uploaded|present|mounted) +sha256:[0-9a-f]{64} \d+ bytes$").unwrap();
    let stderr = text(&out.stderr);
    let (blobs, others): (Vec<&str>, Vec<&str>) = stderr.lines().partition(|l| blob_line.is_match(l));
    assert_eq!(blobs.len(), 2, "the config and the layer: {stderr}");
    assert!(blobs.iter().all(|l| l.starts_with("present")), "pushed before: {stderr}");
    assert_eq!(others.len(), 1, "{stderr}");
    assert!(others[0].starts_with(&format!("pushed {repository}@{digest} as v1")), "{stderr}");

    // Outside Actions: the same runs write no workflow command.
    let outside = [("REGISTRY_USERNAME", USER), ("REGISTRY_PASSWORD", PASSWORD)];
    for out in [
        push(&outside, src.path()),
        push(&outside, empty.path()),
        run_example("doctor", None, &["--lint", file.to_str().unwrap()], &outside),
    ] {
        let stderr = text(&out.stderr);
        assert!(commands(&stderr).is_empty(), "{stderr}");
        assert!(!stderr.contains(PASSWORD), "{stderr}");
    }
}
