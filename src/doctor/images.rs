//! The images the cluster's workloads run can be pulled, with the pull secrets their pods get.

use super::{Finding, Status};
use crate::ResultExt;

/// What the kubelet would find: for every Deployment, StatefulSet, DaemonSet and CronJob of each of
/// `namespaces`, each image is read from its registry with the pull secrets the pods get (the pod spec's
/// and the service account's `imagePullSecrets`, matched by registry host), or anonymously when none
/// matches. A private image in a namespace without a usable pull secret fails and says so; a CronJob that
/// tracks `:latest` needs `imagePullPolicy: Always`.
pub async fn workload_images(
    client: &deployer::kube::Client,
    namespaces: &[String],
    plain_http: &super::PlainHttp,
) -> Result<Vec<Finding>, crate::Error> {
    let mut findings = Vec::new();
    for namespace in namespaces {
        let deployer = deployer::Deployer::new(client.clone(), namespace.clone());
        let (workloads, unserved) =
            deployer.workloads().await.with_context(|| format!("listing the workloads of {namespace}"))?;
        for kind in unserved {
            findings.push(Finding::new(
                format!("images {namespace}"),
                Status::Warn,
                format!("the API server serves no {kind}"),
            ));
        }
        for workload in &workloads {
            let check = |container: &str| {
                format!("image {namespace}/{}/{}/{container}", workload.kind.resource(), workload.name)
            };
            findings.extend(pullable(&deployer, workload, &check, plain_http).await?);
        }
        if workloads.is_empty() {
            findings.push(Finding::new(format!("images {namespace}"), Status::Warn, "no workloads"));
        }
    }
    Ok(findings)
}

/// Checks that every image the Deployment `name` runs can be pulled, as [`workload_images`] checks each
/// workload (with the pull secrets its pods get).
pub async fn deployment_images(
    deployer: &deployer::Deployer,
    name: &str,
    plain_http: &super::PlainHttp,
) -> Result<Vec<Finding>, crate::Error> {
    let workload = deployer
        .workload(deployer::Kind::Deployment, name)
        .await
        .with_context(|| format!("reading deployment {}/{name}", deployer.namespace()))?;
    let check = |container: &str| format!("image {}/{name}/{container}", deployer.namespace());
    pullable(deployer, &workload, &check, plain_http).await
}

/// One finding per image of `workload` (named by `check` from the container): read from its registry with
/// the first pull secret that has credentials for the registry's host, else anonymously.
async fn pullable(
    deployer: &deployer::Deployer,
    workload: &deployer::pull::Workload,
    check: &(dyn Fn(&str) -> String + Sync),
    plain_http: &super::PlainHttp,
) -> Result<Vec<Finding>, crate::Error> {
    use ghcr_client::registry::{credentials_in_docker_config, Credentials, Registry, RegistryOptions};
    let namespace = deployer.namespace();
    let mut findings = Vec::new();
    // The secrets, read once per workload: (name, docker config JSON or why it cannot be used).
    let mut secrets = Vec::new();
    for name in &workload.pull_secrets {
        secrets.push((name.clone(), deployer.pull_secret(name).await?));
    }
    for image in &workload.images {
        let check = check(&image.container);
        let parsed = match offinfra_types::ImageRef::parse(&image.image) {
            Ok(parsed) => parsed,
            Err(e) => {
                findings.push(Finding::new(check, Status::Fail, e.to_string()));
                continue;
            }
        };
        let tracks_latest = parsed.digest().is_none() && parsed.tag().is_some_and(|t| t.as_str() == "latest");
        if workload.kind == deployer::Kind::CronJob && tracks_latest && image.pull_policy.as_deref() != Some("Always") {
            findings.push(Finding::new(
                &check,
                Status::Fail,
                format!("{} tracks :latest without imagePullPolicy: Always: nodes keep their first pull", image.image),
            ));
        }
        let host = parsed.api_host();
        let mut credentials = None;
        let mut unusable = Vec::new();
        for (name, secret) in &secrets {
            match secret {
                deployer::pull::PullSecret::DockerConfig(json) => match credentials_in_docker_config(json, host) {
                    Ok(Some(found)) if credentials.is_none() => credentials = Some((name.clone(), found)),
                    Ok(_) => {}
                    Err(e) => unusable.push(format!("{name}: {e}")),
                },
                deployer::pull::PullSecret::Unusable(why) => unusable.push(why.clone()),
            }
        }
        let options = RegistryOptions { plain_http: plain_http.for_host(host), ..RegistryOptions::default() };
        let auth = credentials.as_ref().map(|(_, c)| c.clone()).unwrap_or(Credentials::Anonymous);
        let registry = Registry::builder(host).credentials(auth).options(options).build()?;
        let without = || {
            let listed =
                if workload.pull_secrets.is_empty() { "none".to_owned() } else { workload.pull_secrets.join(", ") };
            let unusable =
                if unusable.is_empty() { String::new() } else { format!("; unusable: {}", unusable.join("; ")) };
            format!(
                "{} is private and namespace {namespace} has no pull secret for {host} (imagePullSecrets: {listed}{unusable})",
                image.image
            )
        };
        findings.push(match (registry.manifest_digest(parsed.name(), &parsed.reference()).await, &credentials) {
            (Ok(Some(digest)), Some((secret, _))) => {
                Finding::new(check, Status::Pass, format!("{} is {digest} (pulled with {secret})", image.image))
            }
            (Ok(Some(digest)), None) => Finding::new(check, Status::Pass, format!("{} is {digest}", image.image)),
            (Ok(None), _) => Finding::new(check, Status::Fail, format!("{} is not in {host}", image.image)),
            (Err(e), None) if e.is_denied() => Finding::new(check, Status::Fail, without()),
            (Err(e), Some((secret, _))) if e.is_denied() => Finding::new(
                check,
                Status::Fail,
                format!("{}: {host} refused the credentials of pull secret {secret}", image.image),
            ),
            (Err(e), _) => Finding::new(check, Status::Fail, format!("{}: {e}", image.image)),
        });
    }
    Ok(findings)
}
