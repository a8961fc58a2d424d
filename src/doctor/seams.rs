//! The seams between a Woodpecker pipeline, Woodpecker's Kubernetes backend and the cluster, checked
//! live: what the docs of each platform leave implicit and what broke the first real deploy.
//!
//! For each step of a pipeline file:
//! - **service account**: a step's `backend_options.kubernetes.serviceAccountName` is honoured only when
//!   the agent runs with `WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP=true`; otherwise the
//!   pod runs as the `default` account of the agent's pipeline namespace (Woodpecker
//!   `pipeline/backend/kubernetes/pod.go`; the namespace is `WOODPECKER_BACKEND_K8S_NAMESPACE`, default
//!   `woodpecker`, `flags.go`).
//! - **rights**: the account the step really runs as may `patch` the workload a `deploy` step targets
//!   (a SubjectAccessReview, as `kubectl auth can-i patch deployment/NAME --as …`).
//! - **image**: the step's image exists, is pinned by digest, and has an entrypoint where the step relies
//!   on it (a plugin step: no `commands:`, no `entrypoint:`).
//! - **shell**: a `commands:` step runs `/bin/sh -c …` (`pipeline/backend/common/script.go`); its image
//!   must have `/bin/sh`. The layers' file lists are read from the registry as they stream: no pull.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use super::{Finding, Status};
use crate::deployer::{self, Deployer, Kind};

/// How the Woodpecker agent starts steps, read from its workload's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Agent {
    /// The agent's workload, `namespace/name`.
    pub workload: String,
    /// The namespace its pipelines' pods run in (`WOODPECKER_BACKEND_K8S_NAMESPACE`).
    pub pipeline_namespace: String,
    /// `WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP`.
    pub service_account_from_step: bool,
    /// `WOODPECKER_BACKEND_K8S_NAMESPACE_PER_ORGANIZATION`: the pipeline namespace is then a prefix.
    pub namespace_per_org: bool,
}

impl Agent {
    /// The settings in `env` (the agent's container environment), Woodpecker's defaults for the rest.
    pub fn from_env(workload: &str, env: &BTreeMap<String, String>) -> Self {
        // urfave/cli reads booleans with strconv.ParseBool.
        let on = |name: &str| {
            env.get(name).is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
        };
        Agent {
            workload: workload.to_owned(),
            pipeline_namespace: env
                .get("WOODPECKER_BACKEND_K8S_NAMESPACE")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| "woodpecker".to_owned()),
            service_account_from_step: on("WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP"),
            namespace_per_org: on("WOODPECKER_BACKEND_K8S_NAMESPACE_PER_ORGANIZATION"),
        }
    }

    /// Reads the agent `name` in `namespace`: a Deployment, else a StatefulSet (the Helm chart's).
    pub async fn read(client: &deployer::kube::Client, namespace: &str, name: &str) -> Result<Self, crate::Error> {
        let deployer = Deployer::new(client.clone(), namespace);
        let workload = format!("{namespace}/{name}");
        let env = match deployer.environment(Kind::Deployment, name).await {
            Err(deployer::Error::NotFound(_)) => deployer.environment(Kind::StatefulSet, name).await,
            other => other,
        };
        let env = env.map_err(|e| crate::Error::invalid(format!("reading the Woodpecker agent {workload}: {e}")))?;
        Ok(Self::from_env(&workload, &env))
    }

    /// The account a step's pod runs as: the step's own when the agent allows it, else the pipeline
    /// namespace's `default`.
    pub fn account_of(&self, step_account: Option<&str>) -> (String, String) {
        let name = step_account.filter(|_| self.service_account_from_step).unwrap_or("default");
        (self.pipeline_namespace.clone(), name.to_owned())
    }
}

/// One step as the seams see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// It has `commands:` (run through `/bin/sh`).
    pub commands: Vec<String>,
    /// Its `entrypoint:`.
    pub entrypoint: Vec<String>,
    /// `backend_options.kubernetes.serviceAccountName`.
    pub service_account: Option<String>,
}

impl Step {
    /// The workload a `deploy` step targets: (namespace, kind, name), from its flags.
    pub fn deploy_target(&self) -> Option<(String, Kind, String)> {
        let words: Vec<String> = match (self.entrypoint.first(), self.commands.first()) {
            (Some(program), _) if program.ends_with("deploy") => self.entrypoint[1..].to_vec(),
            (None, Some(command)) if command.split_whitespace().next().is_some_and(|p| p.ends_with("deploy")) => {
                command.split_whitespace().skip(1).map(str::to_owned).collect()
            }
            _ => return None,
        };
        let mut flags = BTreeMap::new();
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            let (flag, value) = match word.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (word.clone(), None),
            };
            if matches!(flag.as_str(), "--namespace" | "-n" | "--kind" | "--name") {
                let value = value.or_else(|| iter.next().cloned());
                flags.insert(flag.trim_start_matches('-').to_owned(), value.unwrap_or_default());
            }
        }
        let namespace = flags.get("namespace").or(flags.get("n"))?.clone();
        let kind = flags.get("kind").map_or(Ok(Kind::Deployment), |k| k.parse()).ok()?;
        Some((namespace, kind, flags.get("name")?.clone()))
    }
}

/// The steps of a pipeline file (an error names the file when it is not a pipeline).
pub fn steps(path: &str, text: &str) -> Result<Vec<Step>, crate::Error> {
    let docs =
        YamlLoader::load_from_str(text).map_err(|e| crate::Error::invalid(format!("{path} is not YAML: {e}")))?;
    let strings = |y: &Yaml| -> Vec<String> {
        match y {
            Yaml::String(s) => vec![s.clone()],
            Yaml::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for doc in &docs {
        let list: Vec<(String, &Yaml)> = match &doc["steps"] {
            Yaml::Array(items) => items.iter().map(|s| (s["name"].as_str().unwrap_or("?").to_owned(), s)).collect(),
            Yaml::Hash(map) => map.iter().map(|(k, s)| (k.as_str().unwrap_or("?").to_owned(), s)).collect(),
            _ => Vec::new(),
        };
        for (name, step) in list {
            let Some(image) = step["image"].as_str() else { continue };
            out.push(Step {
                name,
                image: image.to_owned(),
                commands: strings(&step["commands"]),
                entrypoint: strings(&step["entrypoint"]),
                service_account: step["backend_options"]["kubernetes"]["serviceAccountName"]
                    .as_str()
                    .map(str::to_owned),
            });
        }
    }
    Ok(out)
}

/// Whether the union of `layers` (base first, whiteouts applied) holds `/bin/sh`.
pub fn has_shell(layers: &[Vec<String>]) -> bool {
    let mut present = std::collections::BTreeSet::new();
    for layer in layers {
        for path in layer {
            let path = path.trim_end_matches('/');
            match path.rsplit_once('/').map_or(("", path), |(d, f)| (d, f)) {
                (dir, file) if file.starts_with(".wh.") => {
                    let gone = if dir.is_empty() { file[4..].to_owned() } else { format!("{dir}/{}", &file[4..]) };
                    present.retain(|p: &String| p != &gone && !p.starts_with(&format!("{gone}/")));
                }
                _ => {
                    present.insert(path.to_owned());
                }
            }
        }
    }
    // Merged /usr: /bin is a link to usr/bin, so either path holds the shell.
    present.contains("bin/sh") || present.contains("usr/bin/sh")
}

/// Everything the seams checks need besides the pipeline.
pub struct Context<'a> {
    /// The agent, when known (`--agent`).
    pub agent: Option<&'a Agent>,
    /// The cluster, for the rights check.
    pub kube: Option<&'a deployer::kube::Client>,
    /// A registry client for a host.
    pub registry: &'a (dyn Fn(&str) -> Result<ghcr_client::registry::Registry, crate::Error> + Sync),
}

/// The Woodpecker pipeline files of `repo` on Forgejo's default branch: `.woodpecker/*.yml`/`*.yaml` and a
/// top-level `.woodpecker.yml`/`.woodpecker.yaml`, as `(owner/name:path, text)`.
pub async fn repository_pipelines(
    forgejo: &forgejo_client::Forgejo,
    repo: &offinfra_types::RepoName,
) -> Result<Vec<(String, String)>, crate::Error> {
    use crate::ResultExt;
    use forgejo_client::Entry;
    let contents = forgejo.repo(repo.owner(), repo.name()).contents();
    let contents = &contents;
    let read = |path: String| async move {
        contents.get(&path, None).await.with_context(|| format!("reading {path} of {repo} on Forgejo"))
    };
    let mut files = Vec::new();
    if let Some(Entry::Dir(entries)) = read(".woodpecker".into()).await? {
        let yaml = |p: &str| p.ends_with(".yml") || p.ends_with(".yaml");
        files.extend(entries.into_iter().filter(|e| e.kind == "file" && yaml(&e.path)).map(|e| e.path));
    }
    files.extend([".woodpecker.yml", ".woodpecker.yaml"].map(String::from));
    let mut out = Vec::new();
    for path in files {
        if let Some(Entry::File(file)) = read(path.clone()).await? {
            let bytes = file
                .bytes()
                .ok_or_else(|| crate::Error::invalid(format!("{repo}:{path}: no content in Forgejo's answer")))?;
            out.push((format!("{repo}:{path}"), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(out)
}

/// The seams findings of the pipeline file `path`.
pub async fn check(path: &str, text: &str, cx: &Context<'_>) -> Result<Vec<Finding>, crate::Error> {
    let mut findings = Vec::new();
    for step in steps(path, text)? {
        let check = |what: &str| format!("seams {path} {} {what}", step.name);
        // The service account.
        if let Some(account) = &step.service_account {
            findings.push(match cx.agent {
                None => Finding::new(
                    check("service account"),
                    Status::Warn,
                    format!("names serviceAccountName {account}; whether Woodpecker honours it is the agent's setting: give --agent"),
                ),
                Some(agent) if agent.service_account_from_step => Finding::new(
                    check("service account"),
                    Status::Pass,
                    format!("runs as {account}: {} allows a step's service account", agent.workload),
                ),
                Some(agent) => Finding::new(
                    check("service account"),
                    Status::Fail,
                    format!(
                        "names serviceAccountName {account}, which {} ignores \
                         (WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP is not true): the step runs as {}/default",
                        agent.workload, agent.pipeline_namespace
                    ),
                ),
            });
        }
        // The rights of the account it really runs as.
        if let (Some((namespace, kind, name)), Some(agent), Some(kube)) = (step.deploy_target(), cx.agent, cx.kube) {
            let (account_ns, account) = agent.account_of(step.service_account.as_deref());
            let (user, groups) = deployer::access::service_account_user(&account_ns, &account);
            let deployer = Deployer::new(kube.clone(), namespace.clone());
            let target = format!("{} {name} in {namespace}", kind.resource());
            let allowed = deployer.may(&user, &groups, "patch", kind, &name).await.map_err(|e| {
                crate::Error::invalid(format!("asking whether {account_ns}/{account} may patch {target}: {e}"))
            })?;
            findings.push(match allowed {
                true => {
                    Finding::new(check("rights"), Status::Pass, format!("{account_ns}/{account} may patch {target}"))
                }
                false => Finding::new(
                    check("rights"),
                    Status::Fail,
                    format!("{account_ns}/{account} may not patch {target}: bind it a Role there (docs/deploy.md)"),
                ),
            });
        }
        findings.extend(image_findings(&step, cx, &check).await);
    }
    Ok(findings)
}

async fn image_findings(step: &Step, cx: &Context<'_>, check: &dyn Fn(&str) -> String) -> Vec<Finding> {
    let image = match offinfra_types::ImageRef::parse(&step.image) {
        Ok(image) => image,
        Err(e) => return vec![Finding::new(check("image"), Status::Fail, format!("{}: {e}", step.image))],
    };
    let platform = ghcr_client::layout::PlatformSpec::default();
    let read = async {
        let registry = (cx.registry)(image.api_host())?;
        let found = registry.platform_image(&image, &platform).await?;
        Ok::<_, crate::Error>((registry, found))
    };
    let (registry, found) = match read.await {
        Ok(found) => found,
        Err(e) if e.is_not_found() => {
            return vec![Finding::new(check("image"), Status::Fail, format!("{image} does not exist in its registry"))]
        }
        Err(e) => return vec![Finding::new(check("image"), Status::Fail, format!("reading {image}: {e}"))],
    };
    let (entrypoint, cmd) = found.entrypoint_and_cmd();
    let plugin = step.commands.is_empty() && step.entrypoint.is_empty();
    let mut findings = vec![match (image.digest().is_some(), plugin && entrypoint.is_empty() && cmd.is_empty()) {
        (_, true) => Finding::new(
            check("image"),
            Status::Fail,
            format!("{image} has no entrypoint or command, and the step names none"),
        ),
        (false, _) => Finding::new(
            check("image"),
            Status::Warn,
            format!("{image} is not pinned by digest ({}): a moved tag changes what runs", found.digest),
        ),
        (true, _) => {
            Finding::new(check("image"), Status::Pass, format!("{image} exists, pinned; entrypoint {entrypoint:?}"))
        }
    }];
    if !step.commands.is_empty() {
        let mut layers = Vec::new();
        for layer in found.layers() {
            match registry.layer_paths(image.name(), &layer).await {
                Ok(paths) => layers.push(paths),
                Err(e) => {
                    findings.push(Finding::new(
                        check("shell"),
                        Status::Warn,
                        format!("cannot read {image}'s layers: {e}"),
                    ));
                    return findings;
                }
            }
        }
        findings.push(match has_shell(&layers) {
            true => Finding::new(check("shell"), Status::Pass, format!("{image} has /bin/sh for commands:")),
            false => Finding::new(
                check("shell"),
                Status::Fail,
                format!(
                    "{image} has no /bin/sh, and Woodpecker runs commands: as /bin/sh -c …: the step cannot start; use entrypoint:"
                ),
            ),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_settings_and_the_account_a_step_runs_as() {
        let env = BTreeMap::from([("WOODPECKER_BACKEND_K8S_NAMESPACE".to_owned(), "ci".to_owned())]);
        let agent = Agent::from_env("woodpecker/agent", &env);
        assert_eq!((agent.pipeline_namespace.as_str(), agent.service_account_from_step), ("ci", false));
        assert_eq!(agent.account_of(Some("deployer")), ("ci".into(), "default".into()), "ignored when not allowed");
        let mut env = BTreeMap::new();
        env.insert("WOODPECKER_BACKEND_K8S_SERVICE_ACCOUNT_NAME_ALLOW_FROM_STEP".to_owned(), "true".to_owned());
        let agent = Agent::from_env("woodpecker/agent", &env);
        assert_eq!(agent.pipeline_namespace, "woodpecker", "Woodpecker's default");
        assert_eq!(agent.account_of(Some("deployer")), ("woodpecker".into(), "deployer".into()));
        assert_eq!(agent.account_of(None), ("woodpecker".into(), "default".into()));
    }

    #[test]
    fn steps_and_the_deploy_target_are_read_from_either_form() {
        let text = "steps:\n  - name: deploy\n    image: x/d:1\n    entrypoint: [/usr/local/bin/deploy, --namespace=prod, --kind=deployment, --name=web]\n    backend_options:\n      kubernetes:\n        serviceAccountName: deployer\n  - name: old\n    image: x/d:1\n    commands:\n      - deploy -n prod --name web --container-name app\n  - name: other\n    image: alpine\n    commands: [echo hi]\n";
        let steps = steps("p.yml", text).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].service_account.as_deref(), Some("deployer"));
        let target = |i: usize| steps[i].deploy_target();
        assert_eq!(target(0), Some(("prod".into(), Kind::Deployment, "web".into())));
        assert_eq!(target(1), Some(("prod".into(), Kind::Deployment, "web".into())));
        assert_eq!(target(2), None);
        assert!(super::steps("p.yml", "a: [").unwrap_err().to_string().starts_with("p.yml is not YAML"));
    }

    #[test]
    fn a_shell_is_found_in_either_bin_and_a_whiteout_removes_it() {
        let layer = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(has_shell(&[layer(&["bin/", "bin/sh"])]));
        assert!(has_shell(&[layer(&["usr/bin/sh"])]));
        assert!(!has_shell(&[layer(&["usr/local/bin/deploy", "etc/ssl/certs/ca-certificates.crt"])]));
        assert!(!has_shell(&[layer(&["bin/sh"]), layer(&["bin/.wh.sh"])]), "deleted by a later layer");
        assert!(!has_shell(&[layer(&["bin/sh"]), layer(&[".wh.bin"])]), "its directory deleted");
        assert!(has_shell(&[layer(&["bin/sh"]), layer(&["bin/.wh.sh"]), layer(&["bin/sh"])]), "put back");
    }
}
