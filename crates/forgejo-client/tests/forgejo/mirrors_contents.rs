//! Push mirrors and contents against wiremock, bodies and fixtures checked against the spec.

use crate::support::{fixture, forgejo};
use forgejo_client::{ChangeFiles, CreatePushMirror, Entry, Error, FileChange};
use offinfra_test_support::contract::Spec;
use wiremock::{
    matchers::{method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

async fn server() -> MockServer {
    offinfra_test_support::contract::strict_server().await
}

fn mirror(address: &str, interval: &str) -> CreatePushMirror {
    CreatePushMirror {
        remote_address: address.into(),
        remote_username: "bot".into(),
        remote_password: "ghp_mirror".into(),
        interval: interval.into(),
        sync_on_commit: true,
    }
}

#[tokio::test]
async fn mirrors_are_ensured_once_and_errors_surface() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/push_mirrors"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!([fixture("push_mirror.json")]))
                .insert_header("x-total-count", "1"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/push_mirrors"))
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut m = fixture("push_mirror.json");
            m["remote_address"] = "https://github.com/owner/other.git".into();
            m["last_error"] = "".into();
            m
        }))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/push_mirrors-sync"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let f = forgejo(&server);
    let mirrors = f.repo("owner", "app").push_mirrors();
    let (existing, created) = mirrors.ensure(&mirror("https://github.com/owner/app", "0s")).await.unwrap();
    assert!(!created, "the same remote without .git is the same mirror");
    assert!(existing.error().unwrap().contains("workflow"));
    let (_, created) = mirrors.ensure(&mirror("https://github.com/owner/other.git", "8h0m0s")).await.unwrap();
    assert!(created);
    let after_sync = mirrors.sync().await.unwrap();
    assert_eq!(after_sync.len(), 1);

    let err = mirrors.create(&mirror("https://github.com/owner/x.git", "")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)) && err.to_string().contains("0s"), "{err}");
    let err = mirrors.create(&mirror("https://bot:ghp_x@github.com/owner/x.git", "0s")).await.unwrap_err();
    assert!(!err.to_string().contains("ghp_x"), "{err}");
    assert!(err.to_string().starts_with("remote address https://github.com/owner/x.git: credentials go"), "{err}");
    assert!(!format!("{:?}", mirror("a", "0s")).contains("ghp_mirror"));

    let spec = Spec::forgejo();
    spec.assert("PushMirror", &fixture("push_mirror.json"));
    for request in server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/push_mirrors") && r.method.as_str() == "POST")
    {
        spec.assert("CreatePushMirrorOption", &serde_json::from_slice(&request.body).unwrap());
    }
}

#[tokio::test]
async fn contents_read_files_and_directories_and_commit_at_once() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/contents/.github/workflows/build.yml"))
        .and(query_param("ref", "master"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("contents_file.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/contents/.github/workflows"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([fixture("contents_file.json")])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repos/owner/app/contents/.woodpecker.yml"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"message": "not found", "url": "u", "errors": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repos/owner/app/contents"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"files": [], "commit": {"sha": "abc123", "url": "u"}, "verification": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let f = forgejo(&server);
    let contents = f.repo("owner", "app").contents();
    let Some(Entry::File(file)) = contents.get(".github/workflows/build.yml", Some("master")).await.unwrap() else {
        panic!("a file")
    };
    assert_eq!(file.bytes().unwrap(), b"name: build\n");
    let Some(Entry::Dir(entries)) = contents.get(".github/workflows", None).await.unwrap() else {
        panic!("a directory")
    };
    assert_eq!(entries.len(), 1);
    assert_eq!(contents.get(".woodpecker.yml", None).await.unwrap(), None);

    let change = ChangeFiles {
        files: vec![
            FileChange::Update {
                path: file.path.clone(),
                content: b"name: build v2\n".to_vec(),
                sha: file.sha.clone(),
            },
            FileChange::Create { path: ".woodpecker/deploy.yml".into(), content: b"when: {event: manual}\n".to_vec() },
            FileChange::Delete {
                path: ".woodpecker.yml".into(),
                sha: "0123456789abcdef0123456789abcdef01234567".into(),
            },
        ],
        message: Some("ci: build off-infra, deploy in-cluster".into()),
        branch: Some("master".into()),
    };
    assert_eq!(contents.change(&change).await.unwrap(), "abc123");
    let spec = Spec::forgejo();
    spec.assert("ContentsResponse", &fixture("contents_file.json"));
    spec.assert("ChangeFilesOptions", &change.to_json());
}
