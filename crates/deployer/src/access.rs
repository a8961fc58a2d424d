//! What a workload is configured with and who may change it: the literal environment of a workload's
//! containers (how a Woodpecker agent is set up), and a SubjectAccessReview (`kubectl auth can-i … --as`).

use std::collections::BTreeMap;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, PostParams};

use crate::{Deployer, Error, Kind};

impl Kind {
    /// The API group and plural resource, as RBAC names them (`apps`, `deployments`).
    pub fn group_resource(self) -> (&'static str, &'static str) {
        match self {
            Kind::Deployment => ("apps", "deployments"),
            Kind::StatefulSet => ("apps", "statefulsets"),
            Kind::DaemonSet => ("apps", "daemonsets"),
            Kind::ReplicaSet => ("apps", "replicasets"),
            Kind::Job => ("batch", "jobs"),
            Kind::CronJob => ("batch", "cronjobs"),
            Kind::Pod => ("", "pods"),
        }
    }
}

/// A service account as the API server authenticates it: its user name and groups.
pub fn service_account_user(namespace: &str, name: &str) -> (String, Vec<String>) {
    let user = format!("system:serviceaccount:{namespace}:{name}");
    (
        user,
        vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
    )
}

impl Deployer {
    /// The environment variables with literal values of the workload's containers (init containers
    /// first); a variable set from a Secret or ConfigMap reference is left out, as its value is not here.
    /// A name set twice keeps the later value, as in a container.
    pub async fn environment(&self, kind: Kind, name: &str) -> Result<BTreeMap<String, String>, Error> {
        let (spec, _) = self.pod_spec(kind, name).await?;
        let containers = spec.init_containers.iter().flatten().chain(spec.containers.iter());
        let vars = containers.flat_map(|c| c.env.iter().flatten());
        Ok(vars.filter_map(|v| v.value.clone().map(|value| (v.name.clone(), value))).collect())
    }

    /// Whether `user` (in `groups`) may `verb` the workload `kind`/`name` in this namespace, as the API
    /// server's authorizer answers a SubjectAccessReview (`kubectl auth can-i VERB KIND/NAME --as USER`).
    /// Creating the review needs `create` on `subjectaccessreviews` (cluster-admin has it).
    pub async fn may(&self, user: &str, groups: &[String], verb: &str, kind: Kind, name: &str) -> Result<bool, Error> {
        let (group, resource) = kind.group_resource();
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.to_owned()),
                groups: Some(groups.to_vec()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.namespace().to_owned()),
                    verb: Some(verb.to_owned()),
                    group: Some(group.to_owned()),
                    resource: Some(resource.to_owned()),
                    name: Some(name.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client().clone());
        let answer = api.create(&PostParams::default(), &review).await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }
}
