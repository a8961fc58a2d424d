//! The `deploy` example against a real API server: kubectl's lines, exit codes, plugin settings,
//! rollback to the previous images. Nobody plays the kubelet, so pods never become ready.

mod example_run;
#[path = "../crates/deployer/tests/support/mod.rs"]
mod support;

use std::process::Output;

use example_run::{run_example, text};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace};
use offinfra::deployer::kube::api::{Api, PostParams};
use support::Cluster;

fn run(kubeconfig: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let kubeconfig = kubeconfig.to_str().unwrap();
    let mut all = vec![("KUBECONFIG", kubeconfig)];
    all.extend_from_slice(env);
    run_example("deploy", None, args, &all)
}

fn deployment(name: &str, replicas: i32, deadline: i32) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": deadline, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}
    }))
    .unwrap()
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
    for d in [deployment("zero", 0, 600), deployment("stuck", 1, 2)] {
        api.create(&PostParams::default(), &d).await.unwrap();
    }
    let kc = cluster.kubeconfig.clone();

    let out = run(&kc, &["-n", &ns, "--name", "zero", "--container", "app=registry.invalid/app:2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().next(), Some("deployment.apps/zero image updated"));
    assert!(text(&out.stdout).ends_with("deployment \"zero\" successfully rolled out\n"), "{}", text(&out.stdout));

    // Plugin style: PLUGIN_* settings and IMAGE_NAME/IMAGE_TAG.
    let env = [
        ("PLUGIN_NAMESPACE", ns.as_str()),
        ("PLUGIN_NAME", "zero"),
        ("PLUGIN_CONTAINER", "app"),
        ("IMAGE_NAME", "registry.invalid/app"),
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

    // A rollout that cannot progress: kubectl's error, then the previous image is put back.
    let out = run(
        &kc,
        &[
            "-n",
            &ns,
            "--name",
            "stuck",
            "--container",
            "app=registry.invalid/app:2",
            "--timeout",
            "60s",
            "--rollback-on-failure",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "exit 0 only when rolled out");
    assert!(
        text(&out.stderr).starts_with("error: deployment \"stuck\" exceeded its progress deadline\n"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("deployment.apps/stuck rolled back to its previous images"),
        "{}",
        text(&out.stdout)
    );
    let image = api.get("stuck").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("registry.invalid/app:1"));

    namespaces.delete(&ns, &Default::default()).await.unwrap();
}
