//! Rollouts that finish: a real kube-apiserver and controller-manager, with the test playing the
//! scheduler and kubelet (support::Kubelet). A full rollout completes; a release whose pods never become
//! ready fails on its progress deadline, and undo brings back the previous revision, which completes.
//! Also the in-cluster path: a real service-account token, CA file and namespace file.

use std::time::Duration;

use deployer::{
    kube::api::{Api, PostParams},
    set_image::parse_pairs,
    Deployer, Error, Kind, UndoOutcome, WaitOutcome,
};
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{Secret, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use offinfra_test_support::cluster::{deployment, Cluster, Kubelet, BROKEN};

fn image(d: &Deployment) -> String {
    d.spec.clone().unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
}

fn pairs(args: &[&str]) -> Vec<deployer::set_image::ImagePair> {
    parse_pairs(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
}

const WAIT: Option<Duration> = Some(Duration::from_secs(120));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_complete_fail_on_their_deadline_and_undo() {
    let cluster = Cluster::get();
    let client = cluster.client().await;
    let namespace = cluster.namespace(&client, "kubelet-rollouts").await;
    let _kubelet = Kubelet::start(client.clone(), &namespace).await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    api.create(&PostParams::default(), &deployment("web", 3, 10)).await.unwrap();
    let deployer = Deployer::new(client.clone(), &namespace);

    // The first revision, then a new image: each rolls out, with kubectl's progress lines on the way.
    let first = deployer.wait(Kind::Deployment, "web", WAIT, &mut |_| {}).await.unwrap();
    assert_eq!(first, WaitOutcome::RolledOut("deployment \"web\" successfully rolled out\n".into()));
    deployer.set_image(Kind::Deployment, "web", &pairs(&["app=registry.invalid/app:2"]), false).await.unwrap();
    let mut lines = Vec::new();
    let outcome = deployer.wait(Kind::Deployment, "web", WAIT, &mut |m| lines.push(m.to_owned())).await.unwrap();
    assert_eq!(outcome, WaitOutcome::RolledOut("deployment \"web\" successfully rolled out\n".into()));
    assert!(lines.len() >= 2, "progress lines before the last: {lines:?}");
    assert!(lines[..lines.len() - 1].iter().all(|l| l.starts_with("Waiting for deployment")), "{lines:?}");
    assert!(lines.windows(2).all(|w| w[0] != w[1]), "a line is printed when it changes: {lines:?}");
    let status = api.get("web").await.unwrap().status.unwrap();
    assert_eq!((status.replicas, status.updated_replicas, status.available_replicas), (Some(3), Some(3), Some(3)));

    // A release whose pods never become ready: kubectl's deadline error.
    let broken = format!("app=registry.invalid/app{BROKEN}");
    deployer.set_image(Kind::Deployment, "web", &pairs(&[&broken]), false).await.unwrap();
    let outcome = deployer.wait(Kind::Deployment, "web", WAIT, &mut |_| {}).await.unwrap();
    assert_eq!(outcome, WaitOutcome::Failed("deployment \"web\" exceeded its progress deadline".into()));

    // Undo goes back to revision 2, which completes; a second undo from there goes to the broken one.
    assert_eq!(deployer.undo("web", 0).await.unwrap(), UndoOutcome::RolledBack { revision: 2 });
    assert_eq!(image(&api.get("web").await.unwrap()), "registry.invalid/app:2");
    let outcome = deployer.wait(Kind::Deployment, "web", WAIT, &mut |_| {}).await.unwrap();
    assert_eq!(outcome, WaitOutcome::RolledOut("deployment \"web\" successfully rolled out\n".into()));
    let web = api.get("web").await.unwrap();
    let revision = web.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"].clone();
    assert_eq!(revision, "4", "the restored template is the newest revision");
    assert_eq!(deployer.undo("web", 1).await.unwrap(), UndoOutcome::RolledBack { revision: 1 });
    assert_eq!(image(&api.get("web").await.unwrap()), "registry.invalid/app:1");
    assert!(matches!(
        deployer.undo("web", 9).await,
        Err(Error::Undo(m)) if m == "unable to find specified revision 9 in history"
    ));

    // A StatefulSet rolls out pod by pod, and says so as kubectl does.
    let sts: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "registry.invalid/db:1"}]}}}
    }))
    .unwrap();
    Api::<StatefulSet>::namespaced(client.clone(), &namespace).create(&PostParams::default(), &sts).await.unwrap();
    deployer.set_image(Kind::StatefulSet, "db", &pairs(&["db=registry.invalid/db:2"]), false).await.unwrap();
    let outcome = deployer.wait(Kind::StatefulSet, "db", WAIT, &mut |_| {}).await.unwrap();
    assert_eq!(
        outcome,
        WaitOutcome::RolledOut("partitioned roll out complete: 2 new pods have been updated...\n".into())
    );

    offinfra_test_support::cluster::delete_namespace(&client, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_with_a_service_account_token_and_ca_file() {
    let cluster = Cluster::get();
    let admin = cluster.client().await;
    let namespace = cluster.namespace(&admin, "in-cluster").await;
    let post = PostParams::default();
    Api::<Deployment>::namespaced(admin.clone(), &namespace).create(&post, &deployment("web", 0, 600)).await.unwrap();

    // A service account that may read and patch Deployments, and nothing else.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace);
    let account = serde_json::from_value(serde_json::json!({"metadata": {"name": "deployer"}})).unwrap();
    accounts.create(&post, &account).await.unwrap();
    let role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "deployer"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]}]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), &namespace).create(&post, &role).await.unwrap();
    let binding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &namespace).create(&post, &binding).await.unwrap();

    // What a pod gets mounted: the account's token, the cluster CA and the namespace.
    let secret_name = loop {
        let sa = accounts.get("deployer").await.unwrap();
        if let Some(name) = sa.secrets.and_then(|s| s.first().and_then(|r| r.name.clone())) {
            break name;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secret = Api::<Secret>::namespaced(admin.clone(), &namespace).get(&secret_name).await.unwrap();
    let data = secret.data.unwrap();
    let mount = tempfile::tempdir().unwrap();
    std::fs::write(mount.path().join("token"), &data["token"].0).unwrap();
    std::fs::write(mount.path().join("ca.crt"), &data["ca.crt"].0).unwrap();
    std::fs::write(mount.path().join("namespace"), &data["namespace"].0).unwrap();

    let (host, port) = cluster.server();
    let deployer = Deployer::in_cluster(mount.path(), &host, port, None).await.unwrap();
    assert_eq!(deployer.namespace(), namespace, "the namespace file decides");
    deployer.set_image(Kind::Deployment, "web", &pairs(&["app=registry.invalid/app:2"]), false).await.unwrap();
    let outcome = deployer.wait(Kind::Deployment, "web", WAIT, &mut |_| {}).await.unwrap();
    assert_eq!(outcome, WaitOutcome::RolledOut("deployment \"web\" successfully rolled out\n".into()));
    let web = Api::<Deployment>::namespaced(admin.clone(), &namespace).get("web").await.unwrap();
    assert_eq!(image(&web), "registry.invalid/app:2");

    // The token really is the account's: RBAC refuses what the role does not grant.
    let err = deployer.status(Kind::StatefulSet, "db").await.unwrap_err();
    assert!(matches!(&err, Error::Kube(deployer::kube::Error::Api(s)) if s.code == 403), "{err:?}");

    // Missing mounts name the file.
    let empty = tempfile::tempdir().unwrap();
    let err = Deployer::in_cluster(empty.path(), &host, port, None).await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot configure the Kubernetes client: service account token {}",
            empty.path().join("token").display()
        )),
        "{err}"
    );

    offinfra_test_support::cluster::delete_namespace(&admin, &namespace).await;
}
