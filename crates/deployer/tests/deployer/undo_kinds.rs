//! `rollout undo` through the real controller's ReplicaSet history, and `set image` on every kind.

use std::time::Duration;

use deployer::{
    kube::api::{Api, DynamicObject, ListParams, PostParams},
    set_image::parse_pairs,
    Deployer, Error, Kind, UndoOutcome,
};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Namespace,
};
use offinfra_test_support::cluster::Cluster;

fn pairs(args: &[&str]) -> Vec<deployer::set_image::ImagePair> {
    parse_pairs(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
}

async fn wait_for_replicasets(api: &Api<ReplicaSet>, app: &str, count: usize) {
    for _ in 0..150 {
        let sets = api.list(&ListParams::default().labels(&format!("app={app}"))).await.unwrap();
        let revisions = sets
            .items
            .iter()
            .filter(|rs| {
                rs.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("deployment.kubernetes.io/revision"))
            })
            .count();
        if revisions >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the deployment controller did not make {count} ReplicaSets for {app}");
}

fn image_of(d: &Deployment) -> String {
    d.spec.clone().unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_and_every_kind() {
    let cluster = Cluster::get();
    let client = cluster.client().await;
    let ns = format!("deployer-undo-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap())
        .await
        .unwrap();
    let deployer = Deployer::new(client.clone(), &ns);
    let template = |app: &str| serde_json::json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}});

    // Undo: revisions 1 (app:1) and 2 (app:2), then back to 1.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let d = serde_json::from_value(serde_json::json!({"metadata": {"name": "hist", "annotations": {"note": "mine"}}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "hist"}}, "template": template("hist")}})).unwrap();
    deployments.create(&PostParams::default(), &d).await.unwrap();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
    wait_for_replicasets(&sets, "hist", 1).await;
    assert!(
        matches!(deployer.undo("hist", 0).await, Err(Error::Undo(m)) if m == "no rollout history found for deployment \"hist\"")
    );
    deployer.set_image(Kind::Deployment, "hist", &pairs(&["app=registry.invalid/app:2"]), false).await.unwrap();
    wait_for_replicasets(&sets, "hist", 2).await;
    assert_eq!(deployer.undo("hist", 0).await.unwrap(), UndoOutcome::RolledBack { revision: 1 });
    assert_eq!(image_of(&deployments.get("hist").await.unwrap()), "registry.invalid/app:1");
    let err = deployer.undo("hist", 7).await.unwrap_err();
    assert_eq!(err.to_string(), "unable to find specified revision 7 in history");
    // The controller renumbers the restored ReplicaSet to revision 3 (revision-history "1").
    let mut revisions = Vec::new();
    for _ in 0..150 {
        revisions = sets
            .list(&ListParams::default().labels("app=hist"))
            .await
            .unwrap()
            .items
            .iter()
            .filter_map(|rs| rs.metadata.annotations.as_ref()?.get("deployment.kubernetes.io/revision").cloned())
            .collect();
        if revisions.iter().any(|r| r == "3") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(revisions.iter().any(|r| r == "3"), "{revisions:?}");
    assert_eq!(
        deployer.undo("hist", 1).await.unwrap_err().to_string(),
        "unable to find specified revision 1 in history"
    );
    assert_eq!(
        deployer.undo("hist", 3).await.unwrap(),
        UndoOutcome::Skipped { revision: 3 },
        "already at revision 3's template"
    );
    assert!(matches!(deployer.undo("nope", 0).await, Err(Error::NotFound(_))));

    // set image on each kind, through the same code path kubectl's helper takes.
    let objects = [
        (
            "apps/v1",
            "StatefulSet",
            "sts",
            serde_json::json!({"serviceName": "sts", "replicas": 0, "selector": {"matchLabels": {"app": "sts"}}, "template": template("sts")}),
        ),
        (
            "apps/v1",
            "DaemonSet",
            "ds",
            serde_json::json!({"selector": {"matchLabels": {"app": "ds"}}, "template": template("ds")}),
        ),
        (
            "apps/v1",
            "ReplicaSet",
            "rs",
            serde_json::json!({"replicas": 0, "selector": {"matchLabels": {"app": "rs"}}, "template": template("rs")}),
        ),
        (
            "batch/v1",
            "Job",
            "job",
            serde_json::json!({"template": {"metadata": {"labels": {"app": "job"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}),
        ),
        (
            "batch/v1beta1",
            "CronJob",
            "cron",
            serde_json::json!({"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}}}),
        ),
        ("v1", "Pod", "pod", serde_json::json!({"containers": [{"name": "app", "image": "registry.invalid/app:1"}]})),
    ];
    for (api_version, kind, name, spec) in objects {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = deployer::kube::api::GroupVersionKind::gvk(group, version, kind);
        let (resource, _) = deployer::kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
        let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
        let object: DynamicObject = serde_json::from_value(
            serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}),
        )
        .unwrap();
        dynamic.create(&PostParams::default(), &object).await.unwrap();
        let kind: Kind = kind.parse().unwrap();
        let report = deployer.set_image(kind, name, &pairs(&["app=registry.invalid/app:2"]), false).await;
        match (kind, report) {
            // The API server 1.20 serves CronJob as batch/v1beta1 only; the client asks for batch/v1.
            (Kind::CronJob, Err(Error::NotFound(_) | Error::Kube(_))) => continue,
            // A Job's template is immutable: the server refuses, as it refuses kubectl.
            (Kind::Job, Err(e)) => {
                assert!(e.to_string().contains("field is immutable"), "{e}");
                continue;
            }
            (_, Ok(report)) => assert!(report.applied, "{kind:?}"),
            (_, Err(e)) => panic!("{kind:?}: {e}"),
        }
        let back = dynamic.get(name).await.unwrap();
        assert!(back.data.to_string().contains("registry.invalid/app:2"), "{kind:?}: {}", back.data);
    }

    namespaces.delete(&ns, &Default::default()).await.unwrap();
}
