//! The onboarded deploy step as Woodpecker's Kubernetes backend starts it, in a real container runtime
//! (podman with runc), from the image the release workflow's own build step assembles on a shell-less
//! base, against the test control plane.
//!
//! What Woodpecker does with a step, and what this test does in its place:
//! - the container's command is the step's `entrypoint:`; for `commands:` it is
//!   `/bin/sh -c "echo $CI_SCRIPT | base64 -d | /bin/sh -e"` with the script in `CI_SCRIPT`
//!   (`pipeline/backend/common/script.go`, `GenerateContainerConf`; `pipeline/backend/kubernetes/pod.go`,
//!   `podContainer`, where an entrypoint replaces it);
//! - the environment is the CI_* basics, then every manual-pipeline variable (for steps that are not
//!   plugins), then the step's `environment:` (`pipeline/frontend/yaml/compiler/convert.go`, `createProcess`);
//! - the pod runs as the agent's pipeline-namespace service account (no `serviceAccountName` from a step
//!   unless the agent allows it, `pod.go`), whose token the kubelet mounts at
//!   /var/run/secrets/kubernetes.io/serviceaccount, with KUBERNETES_SERVICE_HOST/PORT set.

use std::{
    path::Path,
    process::{Command, Output},
};

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{Secret, ServiceAccount},
    rbac::v1::RoleBinding,
};
use offinfra::deployer::kube::api::{Api, PostParams};
use offinfra_test_support::{
    cluster::{self, Cluster, Kubelet},
    examples::{example, run_example, text},
    oci::{Auth, LocalRegistry},
};
use yaml_rust2::{Yaml, YamlLoader};

/// The deploy step as onboard wrote it before it ran on a shell-less image (a `commands:` step).
const OLD_STEP: &str = "deploy --namespace app --name app --container-name app --timeout 300s --rollback-on-failure";

/// The files of the Debian packages distroless `cc` is made of, as installed here (symlinks followed):
/// glibc, libgcc and the CA bundle, and no shell.
fn shell_less_base(root: &Path) {
    for package in ["libc6", "libgcc-s1"] {
        let listed = Command::new("dpkg").args(["-L", package]).output().expect("dpkg");
        assert!(listed.status.success(), "dpkg -L {package}: {}", text(&listed.stderr));
        for file in text(&listed.stdout).lines().map(Path::new) {
            if file.is_file() && !file.starts_with("/usr/share") {
                let dest = root.join(file.strip_prefix("/").unwrap());
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::copy(file, &dest).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            }
        }
    }
    let certs = root.join("etc/ssl/certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy("/etc/ssl/certs/ca-certificates.crt", certs.join("ca-certificates.crt")).unwrap();
    assert!(!root.join("bin/sh").exists() && !root.join("usr/bin/sh").exists(), "a shell-less base");
}

fn podman() -> Command {
    let mut command = Command::new("podman");
    // This machine kind's runtime settings (docs/DEVELOPMENT.md): runc, cgroupfs, explicit limits.
    command.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
    command
}

/// The release workflow's step `id` of job `job`.
fn release_step(job: &str, id: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/release.yml")).unwrap();
    let workflow = YamlLoader::load_from_str(&text).unwrap().remove(0);
    let steps = workflow["jobs"][job]["steps"].as_vec().unwrap_or_else(|| panic!("release.yml job {job}"));
    let step = steps.iter().find(|s| s["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("step {id}"));
    step["run"].as_str().unwrap().to_owned()
}

fn bash(script: &str, dir: &Path, env: &[(&str, String)]) {
    let mut command = Command::new("bash");
    command.args(["-euo", "pipefail", "-c", script]).current_dir(dir);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let out = command.output().unwrap();
    assert!(out.status.success(), "{script}\n{}{}", text(&out.stdout), text(&out.stderr));
}

/// Pushes the deploy image as the release does: the shell-less base to the local registry, the build
/// job's image step with our binaries (stripped debug builds stand in for the dist ones) onto it, and the
/// publish job's push step. Returns the image repository and its version.
fn release_the_deploy_image(reg: &LocalRegistry) -> (String, &'static str) {
    let base_root = tempfile::tempdir().unwrap();
    shell_less_base(base_root.path());
    let base = format!("{}/distroless/cc", reg.host());
    let mut args: Vec<String> = ["--from", "scratch", "--source-date-epoch", "0", "--repository", &base, "--tag", "1"]
        .map(String::from)
        .to_vec();
    for top in std::fs::read_dir(base_root.path()).unwrap() {
        let top = top.unwrap().file_name().into_string().unwrap();
        args.extend(["--add".to_owned(), format!("{}/{top}:/{top}", base_root.path().display())]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_example("build-image", None, &args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("target/dist/examples");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["deploy", "sync-secrets", "trigger-deploy", "doctor", "push-image"] {
        let strip = Command::new("strip").arg("-o").arg(bin.join(name)).arg(example(name)).status().unwrap();
        assert!(strip.success(), "strip {name}");
    }
    std::os::unix::fs::symlink(example("build-image"), bin.join("build-image")).unwrap();
    let image = format!("{}/viktorbarzin/offinfra-deploy", reg.host());
    let env = [
        ("VERSION", "v9.9.9".to_owned()),
        ("DEPLOY_BASE", format!("{base}:1")),
        ("IMAGE", image.clone()),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567".to_owned()),
        ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
        ("GITHUB_REPOSITORY", "ViktorBarzin/offinfra".to_owned()),
        ("GITHUB_REPOSITORY_OWNER", "ViktorBarzin".to_owned()),
        ("SOURCE_DATE_EPOCH", "0".to_owned()),
    ];
    std::fs::create_dir_all(work.path().join("release/bin")).unwrap();
    bash(&release_step("build", "image"), work.path(), &env);
    // The publish job runs push-image from the build's artifact.
    std::fs::copy(bin.join("push-image"), work.path().join("release/bin/push-image")).unwrap();
    bash(&release_step("publish", "push"), work.path(), &env);
    (image, "9.9.9")
}

/// The deploy pipeline onboard writes for viktor/app (mirror ViktorBarzin/app), with the deploy image
/// `deploy_image` pinned by onboard through the registry, parsed.
async fn rendered_pipeline(deploy_image: &str, namespace: &str, repo_file: &str) -> (Yaml, String) {
    let mut settings = offinfra::onboard::Settings::new(
        "viktor/app".parse().unwrap(),
        "https://forgejo.example",
        "https://ci.example",
    );
    settings.github_repo = Some("ViktorBarzin/app".parse().unwrap());
    settings.namespace = Some(namespace.to_owned());
    settings.deploy_image = Some(deploy_image.to_owned());
    settings.offinfra_git = Some("https://github.com/ViktorBarzin/offinfra".into());
    let repo_file = offinfra::onboard::RepoSettings::parse(repo_file).unwrap();
    let mut config = settings.config_with(&repo_file).unwrap();
    offinfra::onboard::pin_deploy_image(&mut config, offinfra::onboard::registry_digest).await.unwrap();
    let text = offinfra::onboard::render(offinfra::onboard::DEPLOY_TEMPLATE, &config).unwrap();
    (YamlLoader::load_from_str(&text).unwrap().remove(0), text)
}

/// The pipeline account's mounted files: token, ca.crt and namespace of `account` in `namespace`.
async fn account_files(client: &offinfra::deployer::kube::Client, namespace: &str, account: &str) -> tempfile::TempDir {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let sa = accounts.get(account).await.unwrap();
    let secret_name = sa.secrets.unwrap()[0].name.clone().unwrap();
    let secret = Api::<Secret>::namespaced(client.clone(), namespace).get(&secret_name).await.unwrap();
    let data = secret.data.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for file in ["token", "ca.crt", "namespace"] {
        std::fs::write(dir.path().join(file), &data[file].0).unwrap();
    }
    // The step runs as uid 65532: the files must be readable by it, as the kubelet mounts them.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// How Woodpecker's Kubernetes backend would start `step`: the container command and environment.
fn container_of(step: &Yaml, manual: &[(&str, &str)]) -> (Vec<String>, Vec<(String, String)>) {
    let strings = |y: &Yaml| y.as_vec().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let mut env: Vec<(String, String)> = [
        ("CI", "woodpecker"),
        ("CI_REPO", "ViktorBarzin/app"),
        ("CI_PIPELINE_EVENT", "manual"),
        ("CI_COMMIT_BRANCH", "master"),
        ("CI_WORKSPACE", "/woodpecker/src/github.com/ViktorBarzin/app"),
    ]
    .iter()
    .chain(manual)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(vars) = step["environment"].as_hash() {
        assert!(vars.iter().all(|(_, v)| v["from_secret"].is_badvalue()), "no secret in this test's step");
        env.extend(vars.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_str().unwrap().to_owned())));
    }
    let command = if !step["entrypoint"].is_badvalue() {
        strings(&step["entrypoint"])
    } else {
        let script = strings(&step["commands"]).join("\n");
        env.push(("CI_SCRIPT".into(), offinfra::http::base64(script.as_bytes())));
        env.push(("SHELL".into(), "/bin/sh".into()));
        ["/bin/sh", "-c", "echo $CI_SCRIPT | base64 -d | /bin/sh -e"].map(String::from).to_vec()
    };
    (command, env)
}

/// Runs the container as the Kubernetes backend would, with the account's files mounted.
fn run_step(image: &str, command: &[String], env: &[(String, String)], account: &Path, port: u16) -> Output {
    let mut podman = podman();
    podman.args(["run", "--rm", "--network", "host", "--tls-verify=false", "--pull", "missing"]);
    podman.args(["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]);
    // The pipeline's workspace volume at /woodpecker; the working directory in it, which containerd
    // creates for a pod when it is missing (podman does not: made here).
    let workspace = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(workspace.path().join("src/github.com/ViktorBarzin/app")).unwrap();
    podman.arg("-v").arg(format!("{}:/woodpecker", workspace.path().display()));
    podman.args(["--workdir", "/woodpecker/src/github.com/ViktorBarzin/app"]);
    podman.arg("-v").arg(format!("{}:/var/run/secrets/kubernetes.io/serviceaccount:ro", account.display()));
    podman.args(["-e", "KUBERNETES_SERVICE_HOST=127.0.0.1", "-e", &format!("KUBERNETES_SERVICE_PORT={port}")]);
    // The `kubernetes` Service's name, as cluster DNS answers it; its port here is the test API server's
    // (a real Service listens on 443), the one word of the step this test changes.
    podman.args(["--add-host", "kubernetes.default.svc:127.0.0.1"]);
    let command: Vec<String> = command
        .iter()
        .map(|arg| match arg.as_str() {
            "--in-cluster" => format!("--in-cluster=kubernetes.default.svc:{port}"),
            _ => arg.clone(),
        })
        .collect();
    for (name, value) in env {
        podman.arg("-e").arg(format!("{name}={value}"));
    }
    podman.arg("--entrypoint").arg(serde_json::to_string(&command[..1]).unwrap());
    podman.arg(image).args(&command[1..]);
    podman.output().expect("podman")
}

fn running_image(deployment: &Deployment) -> String {
    deployment.spec.clone().unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_onboarded_step_starts_on_the_shell_less_image_and_changes_only_the_tag() {
    let reg = LocalRegistry::start(Auth::Anonymous);
    let (repository, version) = release_the_deploy_image(&reg);
    let k8s = Cluster::get();
    let client = k8s.client().await;
    let app_ns = k8s.namespace(&client, "deploy-step").await;
    let pipelines = k8s.namespace(&client, "woodpecker-pipelines").await;
    let (pipeline, yaml) = rendered_pipeline(&format!("{repository}:{version}"), &app_ns, "").await;
    let step = &pipeline["steps"][0];
    let image = step["image"].as_str().unwrap().to_owned();
    assert!(image.starts_with(&format!("{repository}:{version}@sha256:")), "pinned by onboard: {image}");
    assert_eq!(pipeline["skip_clone"].as_bool(), Some(true), "{yaml}");
    assert!(step["backend_options"].is_badvalue(), "runs as the agent's pipeline account: {yaml}");

    // The agent's pipeline account may edit the app's namespace (the fleet's is cluster-admin).
    let binding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "woodpecker-deploys"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": pipelines}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &app_ns).create(&PostParams::default(), &binding).await.unwrap();
    let account = account_files(&client, &pipelines, "default").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &app_ns);
    let app = cluster::deployment("app", 2, 60);
    let mut app: Deployment = app;
    app.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image =
        Some("ghcr.io/viktorbarzin/app:previous".into());
    deployments.create(&PostParams::default(), &app).await.unwrap();
    let _kubelet = Kubelet::start(client.clone(), &app_ns).await;
    let (_, port) = k8s.server();

    // As flow triggers it: the step starts, rolls out the new tag and exits 0.
    let manual = [("IMAGE_NAME", "ghcr.io/viktorbarzin/app"), ("IMAGE_TAG", "0123abcd")];
    let (command, env) = container_of(step, &manual);
    let out = run_step(&image, &command, &env, account.path(), port);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).ends_with("deployment \"app\" successfully rolled out\n"), "{}", text(&out.stdout));
    assert_eq!(running_image(&deployments.get("app").await.unwrap()), "ghcr.io/viktorbarzin/app:0123abcd");

    // Hostile variables: settings meant for a plugin, a Slack webhook of the triggerer's, another
    // workload's namespace, and an API server or kubeconfig of the triggerer's (which would receive the
    // account's token) change nothing but the tag.
    let slack = wiremock::MockServer::start().await;
    let webhook = format!("{}/hook", slack.uri());
    let fake_api = wiremock::MockServer::start().await;
    let fake_port = fake_api.address().port().to_string();
    let hostile = [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", fake_port.as_str()),
        ("KUBERNETES_SERVICE_PORT_HTTPS", fake_port.as_str()),
        ("KUBECONFIG", "/woodpecker/kubeconfig"),
        ("IMAGE_TAG", "fedcba98"),
        ("PLUGIN_IMAGE", "evil.example/miner:1"),
        ("PLUGIN_IMAGE_REPOSITORY", "evil.example/miner"),
        ("PLUGIN_KIND", "daemonset"),
        ("PLUGIN_NAMESPACE", "kube-system"),
        ("PLUGIN_SLACK_WEBHOOK", webhook.as_str()),
        ("SLACK_WEBHOOK", webhook.as_str()),
    ];
    let (command, env) = container_of(step, &hostile);
    let out = run_step(&image, &command, &env, account.path(), port);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(running_image(&deployments.get("app").await.unwrap()), "ghcr.io/viktorbarzin/app:fedcba98");
    assert!(slack.received_requests().await.unwrap().is_empty(), "the triggerer's webhook got the result");
    assert!(fake_api.received_requests().await.unwrap().is_empty(), "the triggerer's API server was called");

    // Another repository: refused, nothing changes.
    let other = [("IMAGE_NAME", "evil.example/miner"), ("IMAGE_TAG", "1")];
    let (command, env) = container_of(step, &other);
    let out = run_step(&image, &command, &env, account.path(), port);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("IMAGE_NAME \"evil.example/miner\" is not ghcr.io/viktorbarzin/app"));
    assert_eq!(running_image(&deployments.get("app").await.unwrap()), "ghcr.io/viktorbarzin/app:fedcba98");

    // The step as onboard wrote it before (`commands:`) cannot start on this image: there is no shell.
    let old = YamlLoader::load_from_str(&format!("commands:\n  - {OLD_STEP}\n")).unwrap().remove(0);
    let (command, env) = container_of(&old, &manual);
    let out = run_step(&image, &command, &env, account.path(), port);
    assert!(!out.status.success(), "a commands: step started without a shell");
    assert!(text(&out.stderr).contains("/bin/sh"), "{}", text(&out.stderr));
    assert_eq!(running_image(&deployments.get("app").await.unwrap()), "ghcr.io/viktorbarzin/app:fedcba98");

    // As .offinfra.yml renders it for a StatefulSet of two containers that run the same image: both move.
    let (pipeline, yaml) = rendered_pipeline(
        &format!("{repository}:{version}"),
        &app_ns,
        "workload: {kind: statefulset, name: db, containers: [app, worker]}\n",
    )
    .await;
    let step = &pipeline["steps"][0];
    assert!(
        yaml.contains("      - --kind=statefulset\n      - --name=db\n      - --container-name=app,worker\n"),
        "{yaml}"
    );
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &app_ns);
    let db: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                     {"name": "app", "image": "ghcr.io/viktorbarzin/app:previous"},
                     {"name": "worker", "image": "ghcr.io/viktorbarzin/app:previous"}]}}}
    }))
    .unwrap();
    sets.create(&PostParams::default(), &db).await.unwrap();
    let (command, env) = container_of(step, &manual);
    let out = run_step(&image, &command, &env, account.path(), port);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("roll out complete: 1 new pods have been updated"), "{}", text(&out.stdout));
    let images: Vec<String> = sets
        .get("db")
        .await
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .iter()
        .map(|c| c.image.clone().unwrap())
        .collect();
    assert_eq!(images, ["ghcr.io/viktorbarzin/app:0123abcd", "ghcr.io/viktorbarzin/app:0123abcd"]);

    cluster::delete_namespace(&client, &app_ns).await;
    cluster::delete_namespace(&client, &pipelines).await;
}
