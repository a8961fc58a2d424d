//! Against a real kube-apiserver and kube-controller-manager (testenv/k8s-up.sh): set image,
//! rollout status, and the watch-based wait ending in each of its ways. Nobody plays the kubelet here,
//! so new pods never become ready: exactly what a stuck rollout looks like.

use std::time::Duration;

use deployer::{
    kube::api::{Api, PostParams},
    set_image::parse_pairs,
    Deployer, Error, Kind, WaitOutcome,
};
use k8s_openapi::api::apps::v1::Deployment;
use offinfra_test_support::cluster::Cluster;

fn deployment(name: &str, replicas: i32, deadline: i32) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "initContainers": [{"name": "migrate", "image": "registry.invalid/migrate:1"}],
                    "containers": [{"name": "app", "image": "registry.invalid/app:1"}, {"name": "sidecar", "image": "registry.invalid/side:1"}]
                }
            }
        }
    }))
    .unwrap()
}

fn pairs(args: &[&str]) -> Vec<deployer::set_image::ImagePair> {
    parse_pairs(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_status_and_wait_on_a_real_api_server() {
    let cluster = Cluster::get();
    let client = cluster.client().await;
    let namespace = format!("deployer-{}", std::process::id());
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).unwrap();
    namespaces.create(&PostParams::default(), &ns).await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    for d in [deployment("web", 1, 600), deployment("slow", 1, 2), deployment("zero", 0, 600)] {
        api.create(&PostParams::default(), &d).await.unwrap();
    }
    let deployer = Deployer::new(client.clone(), &namespace);

    // set image: the container changes, the sidecar does not; generation moves.
    let before = api.get("web").await.unwrap().metadata.generation.unwrap();
    let report =
        deployer.set_image(Kind::Deployment, "web", &pairs(&["app=registry.invalid/app:2"]), false).await.unwrap();
    assert!(report.applied);
    let after = api.get("web").await.unwrap();
    assert_eq!(after.metadata.generation.unwrap(), before + 1);
    let containers = after.spec.unwrap().template.spec.unwrap().containers;
    let images: Vec<String> = containers.iter().map(|c| c.image.clone().unwrap()).collect();
    assert_eq!(images, ["registry.invalid/app:2", "registry.invalid/side:1"]);
    let managers: Vec<String> = api
        .get("web")
        .await
        .unwrap()
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(managers.contains(&deployer::FIELD_MANAGER.to_string()), "{managers:?}");

    // Nothing to change: nothing sent, generation unchanged.
    let same =
        deployer.set_image(Kind::Deployment, "web", &pairs(&["app=registry.invalid/app:2"]), false).await.unwrap();
    assert!(!same.applied);
    assert_eq!(api.get("web").await.unwrap().metadata.generation.unwrap(), before + 1);

    // Init containers and `*`; a missing container; a missing object.
    deployer.set_image(Kind::Deployment, "web", &pairs(&["migrate=registry.invalid/migrate:2"]), false).await.unwrap();
    let err = deployer.set_image(Kind::Deployment, "web", &pairs(&["nosuch=x:1"]), false).await.unwrap_err();
    assert_eq!(err.to_string(), "unable to find container named \"nosuch\"");
    assert!(matches!(err, Error::MissingContainers { applied: false, .. }));
    let err = deployer.set_image(Kind::Deployment, "nope", &pairs(&["app=x:1"]), false).await.unwrap_err();
    assert_eq!(err.to_string(), "Error from server (NotFound): deployments.apps \"nope\" not found");
    let dry = deployer.set_image(Kind::Deployment, "web", &pairs(&["*=registry.invalid/all:9"]), true).await.unwrap();
    assert!(dry.applied && dry.plan.changes.len() == 3);
    assert_eq!(
        api.get("web").await.unwrap().spec.unwrap().template.spec.unwrap().containers[1].image.as_deref(),
        Some("registry.invalid/side:1"),
        "a dry run changes nothing"
    );

    // Status once, then a wait that times out with kubectl's last line.
    let status = deployer.status(Kind::Deployment, "web").await.unwrap().unwrap();
    assert!(!status.done && status.message.starts_with("Waiting for deployment"), "{status:?}");
    let mut lines = Vec::new();
    let outcome = deployer
        .wait(Kind::Deployment, "web", Some(Duration::from_secs(3)), &mut |m| lines.push(m.to_owned()))
        .await
        .unwrap();
    let WaitOutcome::TimedOut(last) = outcome else { panic!("{outcome:?}") };
    assert!(last.starts_with("Waiting for deployment \"web\" rollout to finish:"), "{last}");
    assert_eq!(lines.last(), Some(&last));

    // A rollout that cannot progress fails with kubectl's message once its deadline passes.
    let outcome = deployer.wait(Kind::Deployment, "slow", Some(Duration::from_secs(90)), &mut |_| {}).await.unwrap();
    assert_eq!(outcome, WaitOutcome::Failed("deployment \"slow\" exceeded its progress deadline".into()));

    // Nothing to roll: done as soon as the controller has observed it.
    let outcome = deployer.wait(Kind::Deployment, "zero", Some(Duration::from_secs(60)), &mut |_| {}).await.unwrap();
    assert_eq!(outcome, WaitOutcome::RolledOut("deployment \"zero\" successfully rolled out\n".into()));
    assert!(matches!(deployer.status(Kind::Pod, "x").await, Err(Error::NoStatusViewer(Kind::Pod))));

    namespaces.delete(&namespace, &Default::default()).await.unwrap();
}
