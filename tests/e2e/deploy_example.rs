//! The `deploy` example against a real API server: kubectl's lines, exit codes, plugin settings, and a
//! failed release rolled back to the previous revision (the test plays the kubelet).

use std::process::Output;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace};
use offinfra::deployer::kube::api::{Api, PostParams};
use offinfra_test_support::cluster::{deployment, Cluster, Kubelet, BROKEN};
use offinfra_test_support::examples::{run_example, text};

fn run(kubeconfig: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let kubeconfig = kubeconfig.to_str().unwrap();
    let mut all = vec![("KUBECONFIG", kubeconfig)];
    all.extend_from_slice(env);
    run_example("deploy", None, args, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_prints_kubectls_lines_and_rolls_back() {
    let cluster = Cluster::get();
    let client = cluster.client().await;
    let ns = format!("deploy-example-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap())
        .await
        .unwrap();
    let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    for d in [deployment("zero", 0, 600), deployment("web", 3, 10)] {
        api.create(&PostParams::default(), &d).await.unwrap();
    }
    let kc = cluster.kubeconfig.clone();

    let out = run(&kc, &["-n", &ns, "--name", "zero", "--container", "app=registry.invalid/app:2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().next(), Some("deployment.apps/zero image updated"));
    assert!(text(&out.stdout).ends_with("deployment \"zero\" successfully rolled out\n"), "{}", text(&out.stdout));

    // Plugin style (no arguments): PLUGIN_* settings, the tag from IMAGE_TAG.
    let env = [
        ("PLUGIN_NAMESPACE", ns.as_str()),
        ("PLUGIN_NAME", "zero"),
        ("PLUGIN_CONTAINER", "app"),
        ("PLUGIN_IMAGE_REPOSITORY", "registry.invalid/app"),
        ("IMAGE_TAG", "3"),
    ];
    let out = run(&kc, &[], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let image = api.get("zero").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("registry.invalid/app:3"));

    // Dry run prints the patch and changes nothing.
    let out = run(&kc, &["-n", &ns, "--name", "zero", "--container", "app=registry.invalid/app:4", "--dry-run"], &[]);
    assert_eq!(text(&out.stdout), "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"registry.invalid/app:4\",\"name\":\"app\"}]}}}}\n");

    // A missing container: kubectl's error, exit 1.
    let out = run(&kc, &["-n", &ns, "--name", "zero", "--container", "nosuch=x:1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: unable to find container named \"nosuch\"\n");

    // With pods that become ready (the test plays the kubelet), a three-replica rollout completes and
    // prints kubectl's progress lines on the way.
    let _kubelet = Kubelet::start(client.clone(), &ns).await;
    let out = run(&kc, &["-n", &ns, "--name", "web", "--container", "app=registry.invalid/app:2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("deployment.apps/web image updated\n"), "{stdout}");
    assert!(stdout.contains("\nWaiting for deployment \"web\" rollout to finish: "), "{stdout}");
    assert!(stdout.ends_with("deployment \"web\" successfully rolled out\n"), "{stdout}");

    // A release that never becomes ready: kubectl's error, then the previous revision comes back and
    // completes; the exit status still says the deploy failed.
    let broken = format!("app=registry.invalid/app{BROKEN}");
    let slack = wiremock::MockServer::start().await;
    let text_sent = format!(
        ":x: deployment.apps/web in {ns} failed (app=registry.invalid/app{BROKEN}): deployment \"web\" exceeded its progress deadline; rolled back"
    );
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/services/T0/B0/x"))
        .and(wiremock::matchers::body_json(serde_json::json!({ "text": text_sent })))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .expect(1)
        .mount(&slack)
        .await;
    let webhook = format!("{}/services/T0/B0/x", slack.uri());
    let args = ["-n", &ns, "--name", "web", "--container", &broken, "--timeout", "120s", "--rollback-on-failure"];
    let mut args = args.to_vec();
    args.extend(["--slack-webhook-env", "DEPLOY_SLACK"]);
    let out = run(&kc, &args, &[("DEPLOY_SLACK", &webhook)]);
    slack.verify().await;
    assert_eq!(out.status.code(), Some(1), "exit 0 only when rolled out");
    assert_eq!(text(&out.stderr), "error: deployment \"web\" exceeded its progress deadline\n");
    let stdout = text(&out.stdout);
    let (before, after) = stdout.split_once("deployment.apps/web rolled back\n").expect(&stdout);
    assert!(before.starts_with("deployment.apps/web image updated\n"), "{stdout}");
    assert!(after.ends_with("deployment \"web\" successfully rolled out\n"), "{stdout}");
    let web = api.get("web").await.unwrap();
    assert_eq!(web.spec.unwrap().template.spec.unwrap().containers[0].image.as_deref(), Some("registry.invalid/app:2"));
    assert_eq!(web.status.unwrap().available_replicas, Some(3));

    namespaces.delete(&ns, &Default::default()).await.unwrap();
}

#[test]
fn pipeline_variables_that_are_not_an_image_are_refused_before_anything_is_sent() {
    for (name, tag, want) in [
        ("ghcr.io/acme/app", "1.0\" --kubeconfig /x", "IMAGE_TAG: image tag"),
        ("ghcr.io/acme/app", "$(id)", "IMAGE_TAG: image tag"),
        ("ghcr.io/acme/../app", "1.0", "IMAGE_NAME \"ghcr.io/acme/../app\" is not ghcr.io/acme/app"),
        ("ghcr.io/acme/app with space", "1.0", "IMAGE_NAME \"ghcr.io/acme/app with space\" is not"),
        ("evil.example/acme/app", "1.0", "IMAGE_NAME \"evil.example/acme/app\" is not ghcr.io/acme/app"),
    ] {
        let env = [("KUBECONFIG", "/nonexistent/kubeconfig"), ("IMAGE_NAME", name), ("IMAGE_TAG", tag)];
        let args = ["--name", "app", "--container-name", "app", "--image-repository", "ghcr.io/acme/app"];
        let out = run_example("deploy", None, &args, &env);
        assert_eq!(out.status.code(), Some(1), "{name} {tag}");
        assert!(text(&out.stderr).starts_with(&format!("error: {want}")), "{name} {tag}: {}", text(&out.stderr));
    }
}

#[test]
fn a_named_kubeconfig_that_does_not_work_is_an_error_not_the_pods_account() {
    let env = [
        ("KUBECONFIG", "/nonexistent/kubeconfig"),
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", "1"),
        ("PLUGIN_NAME", "app"),
        ("PLUGIN_CONTAINER", "app"),
        ("PLUGIN_IMAGE_REPOSITORY", "ghcr.io/acme/app"),
        ("IMAGE_TAG", "0123abcd"),
    ];
    let out = run_example("deploy", None, &[], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("KUBECONFIG \"/nonexistent/kubeconfig\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_without_a_rollout_status_are_deployed_and_succeed() {
    use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
    let cluster = Cluster::get();
    let client = cluster.client().await;
    // A namespace whose default service account has its token: pods can be created at once.
    let ns = cluster.namespace(&client, "deploy-kinds").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let containers = serde_json::json!([{"name": "app", "image": "registry.invalid/app:1"}]);
    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    let replicaset = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "workers"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "workers"}},
                 "template": {"metadata": {"labels": {"app": "workers"}}, "spec": {"containers": containers}}}
    }))
    .unwrap();
    replicasets.create(&PostParams::default(), &replicaset).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "one"}, "spec": {"containers": containers}}))
            .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let kc = cluster.kubeconfig.clone();
    for (kind, name, resource) in [("replicaset", "workers", "replicaset.apps/workers"), ("pod", "one", "pod/one")] {
        let args = ["-n", &ns, "--kind", kind, "--name", name, "--container", "app=registry.invalid/app:2"];
        let out = run(&kc, &args, &[]);
        assert!(out.status.success(), "{kind}: {}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("{resource} image updated\n{resource}: no rollout to wait for (its next pods start with the new image)\n")
        );
    }
    let template = replicasets.get("workers").await.unwrap().spec.unwrap().template.unwrap().spec.unwrap();
    assert_eq!(template.containers[0].image.as_deref(), Some("registry.invalid/app:2"));
    assert_eq!(
        pods.get("one").await.unwrap().spec.unwrap().containers[0].image.as_deref(),
        Some("registry.invalid/app:2")
    );
    namespaces.delete(&ns, &Default::default()).await.unwrap();
}

#[test]
fn help_starts_with_what_deploy_does() {
    // A flattened argument group's long doc would replace the command's own description.
    let out = run_example("deploy", None, &["--help"], &[]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("Set the image of a workload and wait for its rollout\n"),
        "{}",
        text(&out.stdout)
    );
}
