//! `onboard` twice against a wiremock Forgejo (`viktor/app`), GitHub (its mirror `ViktorBarzin/app`) and
//! Woodpecker (the mirror's registration): the first run creates the mirror, commits
//! the two pipeline files and deletes the old one in one commit, activates the repository and flips the
//! default branch; the second run, against the state the first one left, makes no write call.

use offinfra_test_support::contract::{forbid_unmounted, Spec};
use offinfra_test_support::examples::{run_example, text};
use serde_json::{json, Value};
use wiremock::{
    matchers::{body_json, body_partial_json, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

const REPO: &str = "/api/v1/repos/viktor/app";

fn repo(default_branch: &str) -> Value {
    let r = json!({"id": 17, "name": "app", "full_name": "viktor/app", "default_branch": default_branch, "empty": false,
                   "archived": false, "private": true, "mirror": false, "clone_url": "https://git.example.com/viktor/app.git",
                   "html_url": "https://git.example.com/viktor/app"});
    Spec::forgejo().assert("Repository", &r);
    r
}

fn file(path: &str, sha: &str, content: Option<&str>) -> Value {
    let name = path.rsplit('/').next().unwrap();
    let mut f = json!({"name": name, "path": path, "sha": sha, "type": "file", "size": 10});
    if let Some(content) = content {
        f["encoding"] = "base64".into();
        f["content"] = content.into();
    }
    Spec::forgejo().assert("ContentsResponse", &f);
    f
}

fn mirror(sync_on_commit: bool) -> Value {
    let m = json!({"repo_name": "app", "remote_name": "remote_mirror_x1", "remote_address": "https://github.com/ViktorBarzin/app.git",
                   "created": "2026-11-27T10:00:00Z", "last_update": "2026-11-27T10:00:00Z", "last_error": "",
                   "interval": "0s", "sync_on_commit": sync_on_commit});
    Spec::forgejo().assert("PushMirror", &m);
    m
}

fn woodpecker_repo(active: bool) -> Value {
    let r = json!({"id": 42, "forge_remote_id": "17", "owner": "ViktorBarzin", "name": "app", "full_name": "ViktorBarzin/app",
                   "default_branch": "master", "active": active});
    Spec::woodpecker().assert("Repo", &r);
    r
}

/// Forgejo, Woodpecker and GitHub: strict servers (a route nobody mounted fails the test).
async fn servers() -> [MockServer; 3] {
    let strict = offinfra_test_support::contract::strict_server;
    [strict().await, strict().await, strict().await]
}

async fn get(server: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET")).and(path(route)).respond_with(response).mount(server).await;
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "The target couldn't be found.", "url": "u"}))
}

async fn reads(forgejo: &MockServer) {
    get(forgejo, &format!("{REPO}/branches/master"), ok(json!({"name": "master", "commit": {"id": "c0ffee"}}))).await;
    for missing in [".woodpecker.yml", ".woodpecker.yaml", ".offinfra.yml"] {
        get(forgejo, &format!("{REPO}/contents/{missing}"), not_found()).await;
    }
}

fn run(forgejo: &MockServer, woodpecker: &MockServer, github: &MockServer, extra: &[&str]) -> std::process::Output {
    let (github_api, forgejo_url, woodpecker_url) = (github.uri(), forgejo.uri(), woodpecker.uri());
    let mut args = vec![
        "--github-api-url",
        github_api.as_str(),
        "--repo",
        "viktor/app",
        "--github-repo",
        "ViktorBarzin/app",
        "--forgejo-url",
        &forgejo_url,
        "--woodpecker-url",
        &woodpecker_url,
        "--namespace",
        "prod",
        "--offinfra-git",
        "https://git.example.com/platform/offinfra",
        "--deploy-image",
        DEPLOY_IMAGE,
    ];
    args.extend_from_slice(extra);
    let env = [
        ("FORGEJO_TOKEN", "fj"),
        ("WOODPECKER_TOKEN", "wp"),
        ("GITHUB_MIRROR_TOKEN", "gh-mirror-token"),
        ("FORGEJO_GIT_TOKEN", "fj-git-VALUE"),
    ];
    run_example("onboard", None, &args, &env)
}

/// A deploy image pinned by digest: onboard keeps it and asks no registry.
const DEPLOY_IMAGE: &str =
    "ghcr.io/acme/offinfra-deploy:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ENV: &str = "/repos/ViktorBarzin/app/environments/deploy";

fn writes(requests: &[wiremock::Request]) -> Vec<String> {
    requests.iter().filter(|r| r.method.as_str() != "GET").map(|r| format!("{} {}", r.method, r.url.path())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboards_once_then_changes_nothing() {
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let woodpecker = offinfra_test_support::contract::strict_server().await;
    // The GitHub mirror does not exist yet: nothing there to overwrite.
    let github = offinfra_test_support::contract::strict_server().await;
    get(&github, "/repos/ViktorBarzin/app/branches", not_found()).await;
    get(&github, "/repos/ViktorBarzin/app/tags", not_found()).await;
    get(&github, "/repos/ViktorBarzin/app", ok(json!({"id": 4242, "full_name": "ViktorBarzin/app"}))).await;
    get(&github, "/repos/ViktorBarzin/app/actions/secrets", ok(json!({"total_count": 0, "secrets": []}))).await;
    // The mirror's Actions secrets: none yet; values are sealed with this key pair's public half.
    let secret_key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let public_key = offinfra::http::base64(secret_key.public_key().as_bytes());
    // No environment yet: created, limited to master, and the secrets go there.
    let environment_answers = [
        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        ok(
            json!({"name": "deploy", "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}),
        ),
    ];
    let served = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path(ENV))
        .respond_with(move |_: &wiremock::Request| {
            environment_answers[served.fetch_add(1, std::sync::atomic::Ordering::SeqCst).min(1)].clone()
        })
        .mount(&github)
        .await;
    Mock::given(method("PUT"))
        .and(path(ENV))
        .and(body_json(
            json!({"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}),
        ))
        .respond_with(ok(json!({"name": "deploy"})))
        .expect(1)
        .mount(&github)
        .await;
    get(&github, &format!("{ENV}/deployment-branch-policies"), ok(json!({"total_count": 0, "branch_policies": []})))
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ENV}/deployment-branch-policies")))
        .and(body_json(json!({"name": "master", "type": "branch"})))
        .respond_with(ok(json!({"id": 1, "name": "master", "type": "branch"})))
        .expect(1)
        .mount(&github)
        .await;
    get(&github, &format!("{ENV}/secrets/public-key"), ok(json!({"key_id": "kid-1", "key": public_key}))).await;
    for name in ["FORGEJO_GIT_TOKEN", "WOODPECKER_TOKEN"] {
        Mock::given(method("PUT"))
            .and(path(format!("{ENV}/secrets/{name}")))
            .and(body_partial_json(json!({"key_id": "kid-1"})))
            .respond_with(ResponseTemplate::new(201))
            .expect(1)
            .mount(&github)
            .await;
    }

    // A repository still built by an old Woodpecker pipeline, default branch main, no mirror.
    get(&forgejo, REPO, ok(repo("main"))).await;
    reads(&forgejo).await;
    get(&forgejo, &format!("{REPO}/push_mirrors"), ok(json!([]))).await;
    for path in [".github/workflows/build.yml", ".woodpecker/deploy.yml"] {
        get(&forgejo, &format!("{REPO}/contents/{path}"), not_found()).await;
    }
    get(&forgejo, &format!("{REPO}/contents/.woodpecker"), ok(json!([file(".woodpecker/build.yml", "0ld", None)])))
        .await;
    get(&woodpecker, "/api/repos/lookup/ViktorBarzin/app", ResponseTemplate::new(404).set_body_string("Not Found"))
        .await;

    Mock::given(method("POST"))
        .and(path(format!("{REPO}/push_mirrors")))
        .and(body_partial_json(
            json!({"remote_address": "https://github.com/ViktorBarzin/app.git", "remote_username": "x-access-token",
                                      "remote_password": "gh-mirror-token", "interval": "0s", "sync_on_commit": true}),
        ))
        .respond_with(ok(mirror(true)))
        .expect(1)
        .mount(&forgejo)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/contents")))
        .and(body_partial_json(json!({"branch": "master"})))
        .respond_with(ok(json!({"commit": {"sha": "5eed5eed5eed5eed"}, "files": []})))
        .expect(1)
        .mount(&forgejo)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/repos"))
        .and(query_param("forge_remote_id", "4242"))
        .respond_with(ok(woodpecker_repo(true)))
        .expect(1)
        .mount(&woodpecker)
        .await;
    Mock::given(method("PATCH"))
        .and(path(REPO))
        .and(body_partial_json(json!({"default_branch": "master"})))
        .respond_with(ok(repo("master")))
        .expect(1)
        .mount(&forgejo)
        .await;

    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("gh-mirror-token"));
    assert!(stderr.contains("done     committed 5eed5eed5eed\n"), "{stderr}");
    assert!(stderr.contains("done     activated GitHub ViktorBarzin/app in Woodpecker as repo 42\n"), "{stderr}");
    assert!(stderr.contains("done     default branch main -> master\n"), "{stderr}");
    assert!(stderr.contains("done     limit GitHub environment deploy to branch master\n"), "{stderr}");
    assert!(
        stderr.contains("done     set Actions secrets FORGEJO_GIT_TOKEN, WOODPECKER_TOKEN (environment deploy)\n"),
        "{stderr}"
    );
    // The commit that starts the first build comes after everything that build needs.
    let order: Vec<&str> = stderr.lines().filter_map(|l| l.strip_prefix("done     ")).collect();
    let at =
        |prefix: &str| order.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {stderr}"));
    for before in ["activated", "limit GitHub environment", "set Actions secrets"] {
        assert!(at(before) < at("committed"), "{before} before the commit: {stderr}");
    }
    assert!(!stderr.contains("-VALUE"), "a secret value was printed: {stderr}");
    forgejo.verify().await;
    woodpecker.verify().await;
    github.verify().await;
    // GitHub got each value sealed to its key: only the secret key opens it.
    let puts = github.received_requests().await.unwrap();
    let put = puts.iter().find(|r| r.url.path() == format!("{ENV}/secrets/FORGEJO_GIT_TOKEN")).unwrap();
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    let sealed = offinfra::http::base64_decode(body["encrypted_value"].as_str().unwrap()).unwrap();
    assert_eq!(secret_key.unseal(&sealed).unwrap(), b"fj-git-VALUE");
    assert!(!String::from_utf8_lossy(&put.body).contains("fj-git-VALUE"));

    // One commit: both files created, the old pipeline deleted; the body is the spec's.
    let requests = forgejo.received_requests().await.unwrap();
    let commit = requests.iter().find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/contents")).unwrap();
    let body: Value = serde_json::from_slice(&commit.body).unwrap();
    Spec::forgejo().assert("ChangeFilesOptions", &body);
    let files = body["files"].as_array().unwrap();
    let ops: Vec<(String, String)> =
        files.iter().map(|f| (f["operation"].as_str().unwrap().into(), f["path"].as_str().unwrap().into())).collect();
    assert_eq!(
        ops,
        [
            ("create".to_string(), ".github/workflows/build.yml".to_string()),
            ("create".into(), ".woodpecker/deploy.yml".into()),
            ("delete".into(), ".woodpecker/build.yml".into()),
        ]
    );
    assert_eq!(files[2]["sha"], "0ld");
    let committed = |i: usize| files[i]["content"].as_str().unwrap().to_owned();
    let build = String::from_utf8(offinfra::http::base64_decode(&committed(0)).unwrap()).unwrap();
    assert!(build.contains("flow --forgejo-repo viktor/app --image ghcr.io/viktorbarzin/app"), "{build}");
    assert!(build.contains("${{ secrets.FORGEJO_GIT_TOKEN }}"), "the fleet's secret name: {build}");
    let deploy = String::from_utf8(offinfra::http::base64_decode(&committed(1)).unwrap()).unwrap();
    assert!(deploy.contains("  - event: manual\n"));
    assert!(deploy.contains(&format!("    image: {DEPLOY_IMAGE}\n")), "{deploy}");
    assert!(deploy.contains("      - --namespace=prod\n      - --kind=deployment\n      - --name=app\n"), "{deploy}");
    assert!(deploy.contains("      - --image-repository=ghcr.io/viktorbarzin/app\n"), "{deploy}");
    let environment = "    environment:\n      name: deploy\n      deployment: false\n";
    assert!(build.contains(environment) && build.contains("persist-credentials: false"), "{build}");
    assert!(!deploy.contains("${"), "no pipeline variable is substituted into the YAML: {deploy}");

    // The second run sees what the first left: nothing to do, and no write call.
    forgejo.reset().await;
    woodpecker.reset().await;
    forbid_unmounted(&forgejo).await;
    forbid_unmounted(&woodpecker).await;
    get(&forgejo, REPO, ok(repo("master"))).await;
    reads(&forgejo).await;
    get(&forgejo, &format!("{REPO}/push_mirrors"), ok(json!([mirror(true)]))).await;
    let build = file(".github/workflows/build.yml", "b1", Some(&committed(0)));
    let deploy = file(".woodpecker/deploy.yml", "d1", Some(&committed(1)));
    get(&forgejo, &format!("{REPO}/contents/.github/workflows/build.yml"), ok(build)).await;
    get(&forgejo, &format!("{REPO}/contents/.woodpecker/deploy.yml"), ok(deploy)).await;
    get(&forgejo, &format!("{REPO}/contents/.woodpecker"), ok(json!([file(".woodpecker/deploy.yml", "d1", None)])))
        .await;
    get(&woodpecker, "/api/repos/lookup/ViktorBarzin/app", ok(woodpecker_repo(true))).await;
    github.reset().await;
    forbid_unmounted(&github).await;
    // The Forgejo token is still a repository secret from before the environment existed.
    let old_secret = json!({"total_count": 1, "secrets": [
        {"name": "FORGEJO_GIT_TOKEN", "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}]});
    get(&github, "/repos/ViktorBarzin/app/actions/secrets", ok(old_secret)).await;
    get(&github, "/repos/ViktorBarzin/app/branches", not_found()).await;
    get(&github, "/repos/ViktorBarzin/app/tags", not_found()).await;
    // The secrets come in two pages (GitHub pages at 100): the second one's must not look missing.
    let listed = json!({"total_count": 2, "secrets": [
        {"name": "FORGEJO_GIT_TOKEN", "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z"}]});
    let second = json!({"total_count": 2, "secrets": [
        {"name": "WOODPECKER_TOKEN", "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z"}]});
    Mock::given(method("GET"))
        .and(path(format!("{ENV}/secrets")))
        .and(query_param("page", "2"))
        .respond_with(ok(second))
        .mount(&github)
        .await;
    get(&github, ENV, ok(json!({"name": "deploy", "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}))).await;
    let master = json!({"total_count": 1, "branch_policies": [{"id": 1, "name": "master", "type": "branch"}]});
    get(&github, &format!("{ENV}/deployment-branch-policies"), ok(master)).await;
    let next = format!("<{}{ENV}/secrets?per_page=100&page=2>; rel=\"next\"", github.uri());
    get(&github, &format!("{ENV}/secrets"), ok(listed).insert_header("link", next.as_str())).await;

    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.ends_with("viktor/app is onboarded: nothing to change\n"), "{stderr}");
    assert!(
        stderr.contains("ok       Actions secret FORGEJO_GIT_TOKEN is also a repository secret, readable by every workflow on any branch: delete it there once the environment deploy holds it\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("WOODPECKER_TOKEN is also"), "{stderr}");
    assert_eq!(writes(&forgejo.received_requests().await.unwrap()), Vec::<String>::new());
    assert_eq!(writes(&woodpecker.received_requests().await.unwrap()), Vec::<String>::new());
    assert_eq!(writes(&github.received_requests().await.unwrap()), Vec::<String>::new());
    forgejo.verify().await;
    woodpecker.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_that_would_overwrite_github_commits_is_refused() {
    let [forgejo, woodpecker, github] = servers().await;
    get(&forgejo, REPO, ok(repo("master"))).await;
    reads(&forgejo).await;
    get(&forgejo, &format!("{REPO}/push_mirrors"), ok(json!([]))).await;
    // GitHub's master has a commit Forgejo has never seen (the two remotes diverged), a tag Forgejo has on
    // another commit, and a branch Forgejo lacks: the mirror's first sync would lose all three.
    let github_branches =
        json!([{"name": "master", "commit": {"sha": "d1fe9ed0"}}, {"name": "hotfix", "commit": {"sha": "aaaabbbb"}}]);
    get(&github, "/repos/ViktorBarzin/app/branches", ok(github_branches)).await;
    get(&github, "/repos/ViktorBarzin/app/tags", ok(json!([{"name": "v1.0.0", "commit": {"sha": "0123abcd"}}]))).await;
    let forgejo_master =
        json!([{"name": "master", "commit": {"id": "c0ffee", "message": "m", "url": "u"}, "protected": false}]);
    get(&forgejo, &format!("{REPO}/branches"), ok(forgejo_master)).await;
    let forgejo_tag = json!([{"name": "v1.0.0", "id": "fedcba98", "commit": {"sha": "fedcba98", "url": "u", "created": "2026-01-01T00:00:00Z"}}]);
    get(&forgejo, &format!("{REPO}/tags"), ok(forgejo_tag)).await;
    get(&forgejo, &format!("{REPO}/compare/master...d1fe9ed0"), not_found()).await;

    let out = run(&forgejo, &woodpecker, &github, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for lost in [
        "branch master is at d1fe9ed0, a commit Forgejo does not have (Forgejo's is at c0ffee)",
        "branch hotfix is only on GitHub (at aaaabbbb)",
        "tag v1.0.0 is at 0123abcd on GitHub, fedcba98 on Forgejo",
    ] {
        assert!(stderr.contains(lost), "{lost}: {stderr}");
    }
    assert!(stderr.contains("--allow-overwrite"), "{stderr}");
    crate::docs::shown_in("onboard.md", "overwrite", &stderr);
    assert!(writes(&forgejo.received_requests().await.unwrap()).is_empty(), "nothing written");
    assert!(writes(&woodpecker.received_requests().await.unwrap()).is_empty(), "nothing written");

    // With --allow-overwrite the plan goes on (a dry run here: it says what it would do).
    for route in [".github/workflows/build.yml", ".woodpecker/deploy.yml"] {
        get(&forgejo, &format!("{REPO}/contents/{route}"), not_found()).await;
    }
    get(&forgejo, &format!("{REPO}/contents/.woodpecker"), not_found()).await;
    get(&woodpecker, "/api/repos/lookup/ViktorBarzin/app", ResponseTemplate::new(404).set_body_string("Not Found"))
        .await;
    get(&github, "/repos/ViktorBarzin/app", ok(json!({"id": 4242, "full_name": "ViktorBarzin/app"}))).await;
    get(&github, ENV, not_found()).await;
    get(&github, "/repos/ViktorBarzin/app/actions/secrets", not_found()).await;
    let out = run(&forgejo, &woodpecker, &github, &["--allow-overwrite", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("overwritten by the mirror (--allow-overwrite)"), "{stderr}");
    assert!(stderr.contains("would    create a push mirror to https://github.com/ViktorBarzin/app.git"), "{stderr}");

    // What GitHub says its head is goes into a request and a message only as a commit id.
    github.reset().await;
    get(&github, "/repos/ViktorBarzin/app/branches", ok(json!([{"name": "master", "commit": {"sha": "dé/../x"}}])))
        .await;
    get(&github, "/repos/ViktorBarzin/app/tags", ok(json!([]))).await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("GitHub's ViktorBarzin/app master") && stderr.contains("dé/../x"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_placeholder_defaults_where_offinfra_comes_from_is_required() {
    let args =
        ["--repo", "viktor/app", "--forgejo-url", "http://127.0.0.1:9", "--woodpecker-url", "http://127.0.0.1:9"];
    let env = [("FORGEJO_TOKEN", "fj"), ("WOODPECKER_TOKEN", "wp")];
    let out = run_example("onboard", None, &args, &env);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: onboarding needs --offinfra-git (where the workflow installs offinfra from)\n"
    );
    let mut with_git = args.to_vec();
    with_git.extend(["--offinfra-git", "https://git.example.com/platform/offinfra"]);
    let out = run_example("onboard", None, &with_git, &env);
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: onboarding needs --deploy-image (the image the deploy pipeline runs;"),
        "{stderr}"
    );

    // Inside Actions, a secret read from a file (or a variable the user names) is masked before any output.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets");
    std::fs::write(&file, "DEPLOY_KEY=s3cr3t-from-file\n").unwrap();
    let mut masked = with_git.clone();
    masked.extend(["--actions-secret", "DEPLOY_KEY", "--actions-secrets-file", file.to_str().unwrap()]);
    let mut actions_env = env.to_vec();
    actions_env.push(("GITHUB_ACTIONS", "true"));
    let out = run_example("onboard", None, &masked, &actions_env);
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let first_other = lines.iter().position(|l| !l.starts_with("::add-mask::")).unwrap_or(lines.len());
    assert!(lines[..first_other].contains(&"::add-mask::s3cr3t-from-file"), "{stderr}");
}

/// An onboarded repository: mirror, registration, environment and secrets in place; the two rendered files
/// as given and `.offinfra.yml` (or none). Returns nothing: the servers hold it.
async fn onboarded(
    forgejo: &MockServer,
    woodpecker: &MockServer,
    github: &MockServer,
    files: [&str; 2],
    settings: Option<&str>,
) {
    let base64 = |text: &str| offinfra::http::base64(text.as_bytes());
    match settings {
        Some(text) => {
            get(
                forgejo,
                &format!("{REPO}/contents/.offinfra.yml"),
                ok(file(".offinfra.yml", "s1", Some(&base64(text)))),
            )
            .await
        }
        None => get(forgejo, &format!("{REPO}/contents/.offinfra.yml"), not_found()).await,
    }
    get(forgejo, REPO, ok(repo("master"))).await;
    reads(forgejo).await;
    get(forgejo, &format!("{REPO}/push_mirrors"), ok(json!([mirror(true)]))).await;
    let [build, deploy] = files;
    get(
        forgejo,
        &format!("{REPO}/contents/.github/workflows/build.yml"),
        ok(file(".github/workflows/build.yml", "b1", Some(&base64(build)))),
    )
    .await;
    get(
        forgejo,
        &format!("{REPO}/contents/.woodpecker/deploy.yml"),
        ok(file(".woodpecker/deploy.yml", "d1", Some(&base64(deploy)))),
    )
    .await;
    get(forgejo, &format!("{REPO}/contents/.woodpecker"), ok(json!([file(".woodpecker/deploy.yml", "d1", None)])))
        .await;
    get(woodpecker, "/api/repos/lookup/ViktorBarzin/app", ok(woodpecker_repo(true))).await;
    let policy = json!({"name": "deploy", "deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}});
    get(github, ENV, ok(policy)).await;
    let master = json!({"total_count": 1, "branch_policies": [{"id": 1, "name": "master", "type": "branch"}]});
    get(github, &format!("{ENV}/deployment-branch-policies"), ok(master)).await;
    let secret =
        |name: &str| json!({"name": name, "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z"});
    let listed = json!({"total_count": 2, "secrets": [secret("FORGEJO_GIT_TOKEN"), secret("WOODPECKER_TOKEN")]});
    get(github, &format!("{ENV}/secrets"), ok(listed)).await;
    get(github, "/repos/ViktorBarzin/app/actions/secrets", ok(json!({"total_count": 0, "secrets": []}))).await;
}

/// What onboard renders for the test's flags and `settings`, as it writes it (header and all).
fn rendered(forgejo: &MockServer, woodpecker: &MockServer, settings: &str) -> [String; 2] {
    let mut flags = offinfra::onboard::Settings::new("viktor/app".parse().unwrap(), &forgejo.uri(), &woodpecker.uri());
    flags.github_repo = Some("ViktorBarzin/app".parse().unwrap());
    flags.namespace = Some("prod".into());
    flags.offinfra_git = Some("https://git.example.com/platform/offinfra".into());
    flags.deploy_image = Some(DEPLOY_IMAGE.into());
    let config = flags.config_with(&offinfra::onboard::RepoSettings::parse(settings).unwrap()).unwrap();
    let render = |template| offinfra::onboard::stamped(&offinfra::onboard::render(template, &config).unwrap());
    [render(offinfra::onboard::BUILD_TEMPLATE), render(offinfra::onboard::DEPLOY_TEMPLATE)]
}

/// The files of the one commit onboard made: path and text.
async fn committed_files(forgejo: &MockServer) -> Vec<(String, String)> {
    let requests = forgejo.received_requests().await.unwrap();
    let commits: Vec<_> =
        requests.iter().filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/contents")).collect();
    assert_eq!(commits.len(), 1, "one commit");
    let body: Value = serde_json::from_slice(&commits[0].body).unwrap();
    Spec::forgejo().assert("ChangeFilesOptions", &body);
    body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let content = f["content"].as_str().map(|c| offinfra::http::base64_decode(c).unwrap()).unwrap_or_default();
            (
                format!("{} {}", f["operation"].as_str().unwrap(), f["path"].as_str().unwrap()),
                String::from_utf8(content).unwrap(),
            )
        })
        .collect()
}

const SETTINGS: &str = "forgejo_repository: viktor/app
lint: cargo clippy --all-targets -- -D warnings
test:
  - cargo test --workspace
registries:
  - registry: docker.io
    username: viktorbarzin
    password_secret: DOCKERHUB_TOKEN
images:
  - dockerfile: docker/app.Dockerfile
    build_args: {FEATURES: 'full tls'}
    destinations: [ghcr.io/viktorbarzin/app, docker.io/viktorbarzin/app]
  - dockerfile: docker/tools.Dockerfile
    context: tools
    destinations: [ghcr.io/viktorbarzin/app-tools]
workload:
  kind: statefulset
  containers: [app, worker]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_run_re_renders_from_offinfra_yml_and_keeps_an_edited_file() {
    let [forgejo, woodpecker, github] = servers().await;
    let commit = || {
        Mock::given(method("POST"))
            .and(path(format!("{REPO}/contents")))
            .respond_with(ok(json!({"commit": {"sha": "5eed5eed5eed5eed"}, "files": []})))
    };

    // Onboarded without settings; the owner then adds .offinfra.yml: both files are re-rendered from it.
    let [build, deploy] = rendered(&forgejo, &woodpecker, "");
    onboarded(&forgejo, &woodpecker, &github, [&build, &deploy], Some(SETTINGS)).await;
    commit().expect(1).mount(&forgejo).await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let shown = |text: &str| {
        text.replace(&forgejo.uri(), "https://git.example.com").replace(&woodpecker.uri(), "https://ci.example.com")
    };
    crate::docs::shown_in("onboard.md", "re-render", &shown(&stderr));
    assert!(stderr.contains("done     committed 5eed5eed5eed"), "{stderr}");
    assert!(
        stderr.contains("ok       Actions secret DOCKERHUB_TOKEN is missing and no value was given: set it"),
        "{stderr}"
    );
    let files = committed_files(&forgejo).await;
    let [wanted_build, wanted_deploy] = rendered(&forgejo, &woodpecker, SETTINGS);
    assert_eq!(
        files,
        [
            ("update .github/workflows/build.yml".to_owned(), wanted_build.clone()),
            ("update .woodpecker/deploy.yml".to_owned(), wanted_deploy.clone())
        ]
    );
    for part in [
        "      - name: lint\n        run: cargo clippy --all-targets -- -D warnings\n      - name: test\n        run: cargo test --workspace\n",
        "      - name: log in to docker.io\n        run: printf '%s' \"$PASSWORD\" | docker login docker.io --username viktorbarzin --password-stdin\n        env:\n          PASSWORD: ${{ secrets.DOCKERHUB_TOKEN }}\n",
        "run: docker buildx build --platform linux/amd64 --provenance=false --file docker/app.Dockerfile --build-arg 'FEATURES=full tls' --output type=oci,dest=image.tar .\n",
        "--file docker/tools.Dockerfile --output type=oci,dest=image-2.tar tools\n",
        "run: push-image --layout image.tar --repository docker.io/viktorbarzin/app --sha \"$GITHUB_SHA\" --tag latest\n",
        "| push-image --layout image-2.tar --repository ghcr.io/viktorbarzin/app-tools --sha \"$GITHUB_SHA\" --tag latest --username \"$GITHUB_ACTOR\" --password-stdin\n",
        "sudo tar -xzf \"$file\" -C /usr/local/bin ./flow ./push-image\n",
        "run: flow --forgejo-repo viktor/app --image ghcr.io/viktorbarzin/app --layout image.tar --deploy-branch master --wait --timeout 600s\n",
    ] {
        assert!(wanted_build.contains(part), "{part}\nin\n{wanted_build}");
    }
    assert!(
        wanted_deploy.contains("      - --kind=statefulset\n      - --name=app\n      - --container-name=app,worker\n"),
        "{wanted_deploy}"
    );

    // The owner edits the workflow by hand; onboard shows the difference and stops, writing nothing.
    let edited = wanted_build
        .replace("      - name: test\n", "      - name: my own check\n        run: make audit\n      - name: test\n");
    for server in [&forgejo, &woodpecker, &github] {
        server.reset().await;
        forbid_unmounted(server).await;
    }
    onboarded(&forgejo, &woodpecker, &github, [&edited, &wanted_deploy], Some(SETTINGS)).await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kept     .github/workflows/build.yml (edited since onboard rendered it"), "{stderr}");
    assert!(stderr.contains("--- a/.github/workflows/build.yml\n+++ b/.github/workflows/build.yml\n"), "{stderr}");
    assert!(stderr.contains("\n-      - name: my own check\n-        run: make audit\n"), "{stderr}");
    assert!(stderr.contains("pass --force to overwrite it"), "{stderr}");
    crate::docs::shown_in("onboard.md", "edited", &shown(&stderr));
    for server in [&forgejo, &woodpecker, &github] {
        assert_eq!(writes(&server.received_requests().await.unwrap()), Vec::<String>::new(), "nothing written");
    }

    // --force takes the rendering back, and only the edited file changes.
    commit().expect(1).mount(&forgejo).await;
    let out = run(&forgejo, &woodpecker, &github, &["--force"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "ok       .github/workflows/build.yml was edited since onboard rendered it: overwritten (--force)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("ok       .woodpecker/deploy.yml up to date"), "{stderr}");
    assert_eq!(committed_files(&forgejo).await, [("update .github/workflows/build.yml".to_owned(), wanted_build)]);

    // A CronJob-only app: the build skips the deploy, and the deploy pipeline onboard wrote goes.
    for server in [&forgejo, &woodpecker, &github] {
        server.reset().await;
        forbid_unmounted(server).await;
    }
    let cron = "workload: {kind: cronjob}\n";
    let [cron_build, _] = rendered(&forgejo, &woodpecker, cron);
    onboarded(&forgejo, &woodpecker, &github, [&build, &deploy], Some(cron)).await;
    commit().expect(1).mount(&forgejo).await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = committed_files(&forgejo).await;
    assert_eq!(
        files.iter().map(|(op, _)| op.as_str()).collect::<Vec<_>>(),
        ["update .github/workflows/build.yml", "delete .woodpecker/deploy.yml"]
    );
    assert!(cron_build.contains("--deploy-branch master --skip-deploy\n"), "{cron_build}");
    assert_eq!(files[0].1, cron_build);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_moves_the_fleet_one_commit_each_and_shows_the_diffs_first() {
    let forgejo = offinfra_test_support::contract::strict_server().await;
    Mock::given(method("GET")).and(path("/api/v1/orgs/viktor/repos")).respond_with(not_found()).mount(&forgejo).await;
    let listed: Vec<Value> = ["app", "blog", "notes"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({"id": i + 1, "name": name, "full_name": format!("viktor/{name}"), "default_branch": "master", "empty": false})
        })
        .collect();
    get(&forgejo, "/api/v1/users/viktor/repos", ok(json!(listed))).await;
    // What an older offinfra rendered: the same files, another version.
    let older = |name: &str| {
        let mut flags = offinfra::onboard::Settings::new(
            format!("viktor/{name}").parse().unwrap(),
            "https://git.example.com",
            "https://ci.example.com",
        );
        flags.github_repo = Some(format!("ViktorBarzin/{name}").parse().unwrap());
        flags.namespace = Some("prod".into());
        flags.offinfra_git = Some("https://git.example.com/platform/offinfra".into());
        flags.deploy_image = Some(DEPLOY_IMAGE.into());
        let config = flags.config().unwrap();
        let old = |template| {
            let body = offinfra::onboard::render(template, &config).unwrap();
            offinfra::onboard::stamped(&body.replace(offinfra::VERSION, "0.0.9"))
        };
        [old(offinfra::onboard::BUILD_TEMPLATE), old(offinfra::onboard::DEPLOY_TEMPLATE)]
    };
    let base64 = |text: &str| offinfra::http::base64(text.as_bytes());
    for name in ["app", "blog", "notes"] {
        let base = format!("/api/v1/repos/viktor/{name}");
        if name == "notes" {
            get(&forgejo, &format!("{base}/contents/.github/workflows/build.yml"), not_found()).await;
            continue;
        }
        let [mut build, deploy] = older(name);
        if name == "blog" {
            // blog's owner added a step by hand.
            build = build.replace(
                "      - uses: docker/setup-buildx",
                "      - name: mine\n        run: make audit\n      - uses: docker/setup-buildx",
            );
        }
        let at = |path: &str, text: &str| ok(file(path, "s1", Some(&base64(text))));
        get(
            &forgejo,
            &format!("{base}/contents/.github/workflows/build.yml"),
            at(".github/workflows/build.yml", &build),
        )
        .await;
        get(&forgejo, &format!("{base}/contents/.woodpecker/deploy.yml"), at(".woodpecker/deploy.yml", &deploy)).await;
        get(&forgejo, &format!("{base}/contents/.offinfra.yml"), not_found()).await;
        get(&forgejo, &format!("{base}/contents/.woodpecker"), ok(json!([file(".woodpecker/deploy.yml", "d1", None)])))
            .await;
        for old in [".woodpecker.yml", ".woodpecker.yaml"] {
            get(&forgejo, &format!("{base}/contents/{old}"), not_found()).await;
        }
        get(
            &forgejo,
            &format!("{base}/push_mirrors"),
            ok(json!([{"repo_name": name, "remote_name": "m",
            "remote_address": format!("https://github.com/ViktorBarzin/{name}.git"), "created": "2026-11-27T10:00:00Z",
            "last_update": "2026-11-27T10:00:00Z", "last_error": "", "interval": "0s", "sync_on_commit": true}])),
        )
        .await;
    }
    let forgejo_url = forgejo.uri();
    let args = ["--upgrade", "--owner", "viktor", "--forgejo-url", &forgejo_url, "--deploy-image", DEPLOY_IMAGE];
    let env = [("FORGEJO_TOKEN", "fj")];

    // The dry run: app would move (the diff shows the version), blog's edit is kept, notes is not onboarded.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = run_example("onboard", None, &dry, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "blog's edit stops it: {stderr}");
    assert!(stderr.contains("viktor/app: would commit: commit: update .github/workflows/build.yml\n"), "{stderr}");
    assert!(stderr.contains("--- a/.github/workflows/build.yml\n+++ b/.github/workflows/build.yml\n"), "{stderr}");
    assert!(stderr.contains(&format!("-      - name: install offinfra 0.0.9 (the release binary; a checksum mismatch fails the job)\n+      - name: install offinfra {} (", offinfra::VERSION)), "{stderr}");
    assert!(
        stderr.contains("viktor/blog: kept .github/workflows/build.yml (edited since onboard rendered it"),
        "{stderr}"
    );
    assert!(stderr.contains("-      - name: mine\n-        run: make audit\n"), "{stderr}");
    assert!(!stderr.contains("notes"), "{stderr}");
    crate::docs::shown_in("onboard.md", "upgrade-dry-run", &stderr.replace(&forgejo.uri(), "https://git.example.com"));
    assert_eq!(writes(&forgejo.received_requests().await.unwrap()), Vec::<String>::new(), "a dry run writes nothing");

    // For real: one commit for app, with exactly what the dry run showed; blog untouched.
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/viktor/app/contents"))
        .and(body_partial_json(json!({"branch": "master"})))
        .respond_with(ok(json!({"commit": {"sha": "abcdef0123456789"}, "files": []})))
        .expect(1)
        .mount(&forgejo)
        .await;
    let out = run_example("onboard", None, &args, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("viktor/app: committed abcdef012345: commit: update"), "{stderr}");
    assert_eq!(writes(&forgejo.received_requests().await.unwrap()), ["POST /api/v1/repos/viktor/app/contents"]);
    let requests = forgejo.received_requests().await.unwrap();
    let commit = requests.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: Value = serde_json::from_slice(&commit.body).unwrap();
    Spec::forgejo().assert("ChangeFilesOptions", &body);
    assert_eq!(body["message"], format!("ci: offinfra {} (offinfra onboard --upgrade)", offinfra::VERSION));
    let build =
        String::from_utf8(offinfra::http::base64_decode(body["files"][0]["content"].as_str().unwrap()).unwrap())
            .unwrap();
    assert!(offinfra::onboard::intact(&build), "stamped");
    assert!(
        build.contains(&format!("install offinfra {} (", offinfra::VERSION)) && !build.contains("0.0.9"),
        "{build}"
    );
    assert!(
        build.contains("flow --forgejo-repo viktor/app --image ghcr.io/viktorbarzin/app"),
        "the settings read back: {build}"
    );
    forgejo.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_part_way_says_what_is_left_and_a_re_run_completes_it() {
    let [forgejo, woodpecker, github] = servers().await;
    // Onboarded before the lint step was added to .offinfra.yml: the workflow is to be re-rendered.
    let [build, deploy] = rendered(&forgejo, &woodpecker, "");
    onboarded(&forgejo, &woodpecker, &github, [&build, &deploy], Some("lint: make lint\n")).await;
    // The commit fails (Forgejo is restarting): a POST is never repeated, so the run stops there.
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/contents")))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "restarting", "url": "u"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&forgejo)
        .await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "onboard stopped; done: nothing; left: commit: update .github/workflows/build.yml (re-run onboard to complete)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("503"), "the cause is named: {stderr}");
    // The re-run plans only what is left, and completes it.
    Mock::given(method("POST"))
        .and(path(format!("{REPO}/contents")))
        .respond_with(ok(json!({"commit": {"sha": "5eed5eed5eed5eed"}, "files": []})))
        .expect(1)
        .mount(&forgejo)
        .await;
    let out = run(&forgejo, &woodpecker, &github, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("change   commit: update .github/workflows/build.yml\ndone     committed 5eed5eed5eed\n"),
        "{stderr}"
    );
    forgejo.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_kubernetes_refuses_is_refused_with_a_valid_one_before_anything_is_written() {
    // Only `.offinfra.yml` is read (it may name the workload): the name is checked before anything else.
    let forgejo = offinfra_test_support::contract::strict_server().await;
    let settings = "/api/v1/repos/viktor/Freedify/contents/.offinfra.yml";
    get(&forgejo, settings, not_found()).await;
    let forgejo_url = forgejo.uri();
    let args = [
        "--repo",
        "viktor/Freedify",
        "--forgejo-url",
        &forgejo_url,
        "--woodpecker-url",
        "http://127.0.0.1:9",
        "--offinfra-git",
        "https://github.com/ViktorBarzin/offinfra",
        "--deploy-image",
        DEPLOY_IMAGE,
    ];
    let out = run_example("onboard", None, &args, &[("FORGEJO_TOKEN", "fj"), ("WOODPECKER_TOKEN", "wp")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--namespace \"Freedify\" is not a Kubernetes name"), "{stderr}");
    assert!(stderr.contains("e.g. --namespace freedify"), "{stderr}");
    crate::docs::shown_in("onboard.md", "invalid-name", &stderr);
    let requests = forgejo.received_requests().await.unwrap();
    let seen: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect();
    assert_eq!(seen, [format!("GET {settings}")]);
}
