//! The whole pipeline end to end, as CI runs it: `flow` in a real git repository with conventional
//! commits tags on a wiremock Forgejo, pushes a buildx layout to a real registry (read back with skopeo),
//! prunes through a wiremock GitHub Packages API, triggers a wiremock Woodpecker and waits for it; then the
//! deploy leg the Woodpecker pipeline runs (`deploy` with the variables it was given) rolls the image out
//! on a real kube-apiserver, the test playing the kubelet.

use crate::fixtures;
use offinfra_test_support::cluster;
use offinfra_test_support::oci;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use oci::{platform, skopeo_digest, tar_of, with, Auth, Builder, LocalRegistry};
use offinfra::deployer::kube::api::{Api, PostParams};
use offinfra_test_support::examples::{run_example, text};
use offinfra_test_support::git::TestRepo;
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

    // Forgejo: exactly one tag, on the built commit.
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let tag = json!({"name": "v1.3.0", "message": "", "id": head, "commit": {"sha": head, "url": "u", "created": "2026-11-27T10:00:00Z"}, "zipball_url": "z", "tarball_url": "t"});
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/viktor/app/tags"))
        .and(header("authorization", "token fj-token"))
        .and(body_json(json!({"tag_name": "v1.3.0", "target": head})))
        .respond_with(ResponseTemplate::new(201).set_body_json(tag.clone()))
        .expect(1)
        .mount(&forgejo)
        .await;
    // Before the deploy: the newest release is the one just tagged, so this commit may deploy.
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/viktor/app/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([tag])))
        .mount(&forgejo)
        .await;

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
async fn an_older_commit_never_deploys_over_a_newer_release() {
    // Two pushes a few minutes apart, the second run finished first: Forgejo has v1.4.0 on a commit this
    // one does not contain.
    let mut repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag("v1.2.3");
    let head = repo.commit("feat: something new");
    let newer = "f".repeat(40);
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let ours = json!({"name": "v1.3.0", "message": "", "id": head, "commit": {"sha": head, "url": "u", "created": "2026-11-27T10:00:00Z"}, "zipball_url": "z", "tarball_url": "t"});
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/viktor/app/tags"))
        .respond_with(ResponseTemplate::new(201).set_body_json(ours.clone()))
        .mount(&forgejo)
        .await;
    let theirs = json!({"name": "v1.4.0", "message": "", "id": newer, "commit": {"sha": newer, "url": "u", "created": "2026-11-27T10:05:00Z"}, "zipball_url": "z", "tarball_url": "t"});
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/viktor/app/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([theirs, ours])))
        .mount(&forgejo)
        .await;
    // v1.4.0's commit has one commit this one lacks.
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/repos/viktor/app/compare/{head}...{newer}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_commits": 1, "commits": []})))
        .mount(&forgejo)
        .await;
    // Woodpecker must see no deploy: every route is refused and counted.
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    let (forgejo_url, woodpecker_url) = (forgejo.uri(), woodpecker.uri());
    let env = [
        ("GITHUB_REPOSITORY", "ViktorBarzin/app"),
        ("FORGEJO_REPOSITORY", "viktor/app"),
        ("GITHUB_SHA", head.as_str()),
        ("FORGEJO_URL", forgejo_url.as_str()),
        ("FORGEJO_TOKEN", "fj-token"),
        ("WOODPECKER_URL", woodpecker_url.as_str()),
        ("WOODPECKER_TOKEN", "wp-token"),
    ];
    let args = ["--skip-push", "--skip-prune", "--woodpecker-repo-id", "42", "--image", "ghcr.io/viktorbarzin/app"];
    let out = run_example("flow", Some(repo.path()), &args, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let sha8 = &head[..8];
    assert!(
        stderr.contains(&format!("not deploying {sha8}: v1.4.0 (at ffffffff) is newer and {sha8} does not contain it")),
        "{stderr}"
    );
    assert!(woodpecker.received_requests().await.unwrap().is_empty(), "nothing was deployed");
}
