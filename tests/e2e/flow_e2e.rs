//! The whole pipeline end to end, as CI runs it: `flow` in a real git repository with conventional
//! commits tags on a wiremock Forgejo, pushes a buildx layout to a real registry (read back with skopeo),
//! prunes through a wiremock GitHub Packages API, triggers a wiremock Woodpecker and waits for it; then the
//! deploy leg the Woodpecker pipeline runs (`deploy` with the variables it was given) rolls the image out
//! on a real kube-apiserver, the test playing the kubelet.

use crate::fixtures;
use offinfra_test_support::cluster;
use offinfra_test_support::oci;

use std::{collections::BTreeMap, path::Path, process::Output};

use k8s_openapi::api::apps::v1::Deployment;
use oci::{platform, skopeo_digest, tar_of, with, Auth, Builder, LocalRegistry};
use offinfra::deployer::kube::api::{Api, PostParams};
use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::forgejo::TagRoutes;
use offinfra_test_support::git::{git_in, TestRepo};
use serde_json::json;
use wiremock::{
    matchers::{body_json, header, method, path},
    Mock, ResponseTemplate,
};

fn outputs(file: &std::path::Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn version_tag_push_prune_trigger_and_roll_out() {
    // A released repository with a feature since: the next version is v1.3.0.
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v1.2.3");
    let head = repo.commit("feat: something new");
    let sha8 = head[..8].to_owned();

    // What docker buildx wrote: an index with the amd64 image and its attestation.
    let src = tempfile::tempdir().unwrap();
    let b = Builder::new(src.path());
    let amd64 = with(b.image("amd64", 2), "platform", platform("linux", "amd64"));
    let attestation = oci::attestation(&b, &amd64);
    let index = b.index_blob(vec![amd64.clone(), attestation]);
    b.write_index(vec![with(index, "annotations", json!({"org.opencontainers.image.ref.name": "latest"}))]);
    let (_keep, tar) = tar_of(src.path());
    let digest = amd64["digest"].as_str().unwrap().to_owned();

    let registry = LocalRegistry::start(Auth::Anonymous);
    let image = format!("{}/owner/app", registry.host());

    // Forgejo: the tags it has (v1.2.3 too); the run creates exactly one, on the built commit.
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let tags = TagRoutes::mount(&forgejo, "viktor/app", repo.path()).await;
    tags.add("v1.2.3", &repo.git(&["rev-parse", "v1.2.3"]));

    // GitHub Packages: the image just pushed is the newest version; the three older ones go.
    let github = offinfra_test_support::contract::strict_server().await;
    let version = |id: u64, name: &str, day: u32, tags: &[&str]| {
        json!({"id": id, "name": name, "created_at": format!("2026-11-{day:02}T00:00:00Z"), "updated_at": format!("2026-11-{day:02}T00:00:00Z"),
               "metadata": {"package_type": "container", "container": {"tags": tags}}})
    };
    let old = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let versions = json!([
        version(100, &digest, 27, &[&sha8, "latest"]),
        version(90, &old('1'), 20, &["aaaaaaaa"]),
        version(80, &old('2'), 19, &["bbbbbbbb"]),
        version(70, &old('3'), 18, &[]),
    ]);
    Mock::given(method("GET"))
        .and(path("/orgs/owner/packages/container/app/versions"))
        .and(header("authorization", "Bearer gh-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(versions))
        .mount(&github)
        .await;
    for id in [70, 80, 90] {
        Mock::given(method("DELETE"))
            .and(path(format!("/orgs/owner/packages/container/app/versions/{id}")))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&github)
            .await;
    }

    // Woodpecker: the deploy pipeline gets the image's name and tag, then reports success.
    // Woodpecker knows the app twice, as the fleet's infra repo is: the Forgejo registration (id 82) and the
    // GitHub mirror's (id 42). Only the mirror's may receive the deploy.
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let mut forgejo_registration = fixtures::woodpecker("repo.json");
    forgejo_registration["id"] = json!(82);
    forgejo_registration["full_name"] = json!("viktor/app");
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/viktor/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(forgejo_registration))
        .expect(0)
        .mount(&woodpecker)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos/82/pipelines"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&woodpecker)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/ViktorBarzin/app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("repo.json")))
        .mount(&woodpecker)
        .await;
    let request = json!({"branch": "master", "variables": {"IMAGE_NAME": image, "IMAGE_TAG": sha8}});
    Mock::given(method("POST"))
        .and(path("/api/repos/42/pipelines"))
        .and(header("authorization", "Bearer wp-token"))
        .and(body_json(&request))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("pipeline_running.json")))
        .expect(1)
        .mount(&woodpecker)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/repos/42/pipelines/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("pipeline_success.json")))
        .mount(&woodpecker)
        .await;

    let gh = tempfile::tempdir().unwrap();
    let (output, summary) = (gh.path().join("output"), gh.path().join("summary"));
    let forgejo_url = forgejo.uri();
    let github_url = github.uri();
    let woodpecker_url = woodpecker.uri();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "ViktorBarzin/app"),
        ("FORGEJO_REPOSITORY", "viktor/app"),
        ("GITHUB_SHA", head.as_str()),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_TOKEN", "gh-token"),
        ("GITHUB_API_URL", github_url.as_str()),
        ("FORGEJO_URL", forgejo_url.as_str()),
        ("FORGEJO_TOKEN", "fj-token"),
        ("WOODPECKER_URL", woodpecker_url.as_str()),
        ("WOODPECKER_TOKEN", "wp-token"),
    ];
    // The local registry stands in for ghcr.io: the Packages API (wiremock) manages its packages.
    let packages_registry = image.split('/').next().unwrap().to_owned();
    let args = [
        "--image",
        &image,
        "--layout",
        tar.to_str().unwrap(),
        "--keep",
        "1",
        "--wait",
        "--timeout",
        "30s",
        "--packages-registry",
        &packages_registry,
    ];
    let out = run_example("flow", Some(repo.path()), &args, &env);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), "v1.3.0\n");
    // Inside Actions: each secret masked first (the runner hides the value everywhere after), and never
    // printed anywhere else; a group per step; notices for what changed.
    for secret in ["fj-token", "gh-token", "wp-token"] {
        assert!(stderr.contains(&format!("::add-mask::{secret}\n")), "{secret} not masked: {stderr}");
        let elsewhere = stderr.lines().filter(|l| !l.starts_with("::add-mask::")).any(|l| l.contains(secret));
        assert!(!elsewhere, "{secret} printed: {stderr}");
    }
    for step in ["tag", "push", "prune", "deploy"] {
        let group = stderr.find(&format!("::group::{step}\n")).unwrap_or_else(|| panic!("{step}: {stderr}"));
        let result = stderr.find(&format!("{step:<7} done: ")).unwrap_or_else(|| panic!("{step}: {stderr}"));
        assert!(group < result && stderr[result..].contains("::endgroup::"), "{step}'s line in its group: {stderr}");
    }
    assert_eq!(stderr.matches("::endgroup::").count(), 4, "{stderr}");
    assert!(stderr.contains("::notice::created tag v1.3.0 on viktor/app"), "{stderr}");
    assert!(stderr.contains(&format!("::notice::pushed {image}@{digest}")), "{stderr}");
    assert!(stderr.contains("::notice::deploy pipeline #7 success"), "{stderr}");

    // The image is in the registry under both tags, as one manifest.
    for tag in [sha8.as_str(), "latest"] {
        assert_eq!(skopeo_digest(&format!("{image}:{tag}"), None), digest, "{tag}");
    }
    let outputs = outputs(&output);
    let expected = [
        ("version", "1.3.0"),
        ("tag", "v1.3.0"),
        ("tag_created", "true"),
        ("image", image.as_str()),
        ("image_tag", sha8.as_str()),
        ("digest", digest.as_str()),
        ("pruned", "3"),
        ("pipeline", "7"),
        ("deploy_status", "success"),
        ("step_tag", "done"),
        ("step_push", "done"),
        ("step_prune", "done"),
        ("step_deploy", "done"),
    ];
    for (name, value) in expected {
        assert_eq!(outputs.get(name).map(String::as_str), Some(value), "{name} in {outputs:?}");
    }
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("| Step | Result | Details |"), "{summary}");
    for step in ["tag", "push", "prune", "deploy"] {
        assert!(summary.contains(&format!("| {step} | ✅ done |")), "{step}: {summary}");
    }
    assert_eq!(tags.tags().last(), Some(&("v1.3.0".to_owned(), head.clone())), "one tag created, on the commit");
    assert_eq!(tags.tags().len(), 2);
    forgejo.verify().await;
    github.verify().await;
    woodpecker.verify().await;

    // The deploy leg: what the Woodpecker pipeline runs, with the variables the flow sent.
    let sent = woodpecker.received_requests().await.unwrap();
    let trigger = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&trigger.body).unwrap();
    let (image_name, image_tag) =
        (body["variables"]["IMAGE_NAME"].as_str().unwrap(), body["variables"]["IMAGE_TAG"].as_str().unwrap());
    let k8s = cluster::Cluster::get();
    let client = k8s.client().await;
    let namespace = k8s.namespace(&client, "flow-e2e").await;
    let _kubelet = cluster::Kubelet::start(client.clone(), &namespace).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let app = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": format!("{image}:previous")}]}}}
    }))
    .unwrap();
    deployments.create(&PostParams::default(), &app).await.unwrap();
    let kubeconfig = k8s.kubeconfig.to_str().unwrap().to_owned();
    // As the onboarded step runs it: the repository fixed by its flags, the variables in its environment.
    let env = [("KUBECONFIG", kubeconfig.as_str()), ("IMAGE_NAME", image_name), ("IMAGE_TAG", image_tag)];
    let repository = format!("--image-repository={image}");
    let args =
        ["--namespace", &namespace, "--name", "app", "--container-name", "app", &repository, "--timeout", "120s"];
    let out = run_example("deploy", None, &args, &env);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).ends_with("deployment \"app\" successfully rolled out\n"), "{}", text(&out.stdout));
    let running =
        deployments.get("app").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(running, Some(format!("{image}:{sha8}")));
    cluster::delete_namespace(&client, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_on_another_line_of_history_is_neither_tagged_over_nor_deployed_over() {
    // Forgejo's newest release is on a commit this checkout lacks and which does not contain what it
    // built (a rewritten branch): nothing is tagged or deployed, and both commits are named.
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v1.2.3");
    let head = repo.commit("feat: something new");
    let side = TestRepo::new();
    side.empty_commit("chore: elsewhere");
    let elsewhere = side.git(&["rev-parse", "HEAD"]);
    let (_dir, forge) = offinfra_test_support::git::clone(&repo, &[]);
    git_in(&forge, &["fetch", "-q", side.path().to_str().unwrap(), "HEAD"]);
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let tags = TagRoutes::mount(&forgejo, "viktor/app", &forge).await;
    tags.add("v1.2.3", &repo.git(&["rev-parse", "v1.2.3"]));
    tags.add("v1.4.0", &elsewhere);
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let out = flow_in(repo.path(), &head, &forgejo.uri(), &woodpecker.uri(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let (head8, other8) = (&head[..8], &elsewhere[..8]);
    let expected = format!("not tagging {head8}: v1.4.0 (at {other8}) is on a commit this checkout lacks");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("deploy  skipped: an earlier step failed"), "{stderr}");
    assert_eq!(tags.tags().len(), 2, "no tag created");
    assert!(woodpecker.received_requests().await.unwrap().is_empty(), "nothing was deployed");
}

/// `flow` in `checkout` for commit `sha`, tagging on `forgejo` and deploying through `woodpecker`
/// (registration 42), without push and prune.
fn flow_in(checkout: &Path, sha: &str, forgejo: &str, woodpecker: &str, extra: &[&str]) -> Output {
    let env = [
        ("GITHUB_REPOSITORY", "ViktorBarzin/app"),
        ("FORGEJO_REPOSITORY", "viktor/app"),
        ("GITHUB_SHA", sha),
        ("FORGEJO_URL", forgejo),
        ("FORGEJO_TOKEN", "fj-token"),
        ("WOODPECKER_URL", woodpecker),
        ("WOODPECKER_TOKEN", "wp-token"),
    ];
    let mut args = vec!["--skip-push", "--skip-prune", "--woodpecker-repo-id", "42"];
    args.extend_from_slice(&["--image", "ghcr.io/viktorbarzin/app"]);
    args.extend_from_slice(extra);
    run_example("flow", Some(checkout), &args, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flows_racing_with_a_lagging_mirror_both_tag_distinct_versions() {
    // Forgejo's history: v1.0.0, then A (a feature), B and C (fixes) pushed a few minutes apart. Each run
    // builds a checkout of the GitHub mirror made at its push, with only the tags the mirror had: v1.0.0.
    let mut forge = TestRepo::new();
    forge.commit("chore: init");
    forge.tag("v1.0.0");
    let mut checkouts = Vec::new();
    let mut commits = Vec::new();
    for message in ["feat: a", "fix: b", "fix: c"] {
        commits.push(forge.commit(message));
        checkouts.push(offinfra_test_support::git::clone(&forge, &[]));
    }
    let (a, b, c) = (&commits[0], &commits[1], &commits[2]);
    let (run_a, run_b, run_c) = (checkouts[0].1.as_path(), checkouts[1].1.as_path(), checkouts[2].1.as_path());
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let tags = TagRoutes::mount(&forgejo, "viktor/app", forge.path()).await;
    tags.add("v1.0.0", &forge.git(&["rev-parse", "v1.0.0"]));
    // Woodpecker takes exactly one deploy: C's.
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let c8 = c[..8].to_owned();
    Mock::given(method("POST"))
        .and(path("/api/repos/42/pipelines"))
        .and(body_json(
            json!({"branch": "master", "variables": {"IMAGE_NAME": "ghcr.io/viktorbarzin/app", "IMAGE_TAG": c8}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::woodpecker("pipeline_running.json")))
        .expect(1)
        .mount(&woodpecker)
        .await;
    let (forgejo_url, woodpecker_url) = (forgejo.uri(), woodpecker.uri());
    let flow = |checkout: &Path, sha: &str, extra: &[&str]| {
        let out = flow_in(checkout, sha, &forgejo_url, &woodpecker_url, extra);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        (text(&out.stdout).trim().to_owned(), stderr)
    };

    // Run A tags v1.1.0 on A; its deploy step comes later (a slow push).
    let (tag, _) = flow(run_a, a, &["--skip-deploy"]);
    assert_eq!(tag, "v1.1.0");
    // Runs B and C overlap: C lists Forgejo's tags, then B's v1.1.1 lands before C creates its own. C's
    // checkout has neither tag; Forgejo's listing gives it A's, Forgejo's answer to its create gives B's.
    tags.race_after_next_list("v1.1.1", b);
    let (tag, stderr) = flow(run_c, c, &[]);
    assert_eq!(tag, "v1.1.2", "{stderr}");
    assert!(
        stderr.contains(&format!(
            "tag     done: created v1.1.2 at {c8} (v1.1.1 was taken by another run meanwhile: recomputed)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("deploy  done: pipeline #"), "{stderr}");
    let shown = stderr
        .replace(&woodpecker_url, "https://ci.example.com")
        .replace(c.as_str(), "c0ffee42")
        .replace(&c8, "c0ffee42");
    crate::docs::shown_in("versioning.md", "racing-flows", &shown);
    // B and then A reach their deploy after C's: both stand down, neither deploys over C.
    for (checkout, sha) in [(run_b, b), (run_a, a)] {
        let (_, stderr) = flow(checkout, sha, &[]);
        let expected = format!("tag     skipped: v1.1.2 (at {c8}) already contains {}", &sha[..8]);
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(stderr.contains("deploy  skipped: superseded by v1.1.2"), "{stderr}");
    }
    // Without the tag step, the deploy's own check refuses: the newest release does not contain A.
    let out = flow_in(run_a, a, &forgejo_url, &woodpecker_url, &["--skip-tag"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let a8 = &a[..8];
    let expected = format!("not deploying {a8}: v1.1.2 (at {c8}) is newer and {a8} does not contain it");
    assert!(stderr.contains(&expected), "{stderr}");
    let short = |(name, commit): &(String, String)| (name.clone(), commit[..8].to_owned());
    let v100 = forge.git(&["rev-parse", "v1.0.0"]);
    let expected: Vec<(String, String)> = [("v1.0.0", &v100), ("v1.1.0", a), ("v1.1.1", b), ("v1.1.2", c)]
        .map(|(n, c)| (n.to_owned(), c[..8].to_owned()))
        .into();
    assert_eq!(tags.tags().iter().map(short).collect::<Vec<_>>(), expected, "one version per commit");
    woodpecker.verify().await;
}
