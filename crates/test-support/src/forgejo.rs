//! Forgejo's tag routes over a list that changes as the test runs: what two CI runs racing against one
//! Forgejo see. Listing (`GET .../tags`), reading one (`GET .../tags/{name}`), creating (`POST .../tags`:
//! 201, or 409 when the name is taken, as Forgejo answers) and comparing two commits (`GET
//! .../compare/{base}...{head}`, counted by `git rev-list` in a real repository that plays Forgejo's copy).
//! Every body it sends and receives is checked against Forgejo's spec.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::contract::Spec;

#[derive(Default)]
struct State {
    tags: Vec<(String, String)>,
    /// Another run's tag that lands right after the next listing (between a run's list and its create).
    racing: Option<(String, String)>,
}

/// A repository's tags on a wiremock Forgejo ([`Self::mount`]).
#[derive(Clone)]
pub struct TagRoutes {
    state: Arc<Mutex<State>>,
    git_dir: PathBuf,
}

/// A tag as Forgejo's API writes it.
fn tag_json(name: &str, commit: &str) -> Value {
    json!({"name": name, "message": "", "id": commit, "commit": {"sha": commit, "url": "u", "created": "2026-12-03T10:00:00Z"},
           "zipball_url": "z", "tarball_url": "t"})
}

impl TagRoutes {
    /// Mounts the routes of `repo` (`owner/name`) on `server`, comparing commits in the git repository at
    /// `git_dir` (it must hold every commit the test names).
    pub async fn mount(server: &MockServer, repo: &str, git_dir: &Path) -> Self {
        let routes = Self { state: Arc::default(), git_dir: git_dir.to_owned() };
        let base = format!("/api/v1/repos/{repo}");
        Mock::given(wiremock::matchers::path_regex(format!("^{base}/(tags|tags/.+|compare/.+)$")))
            .respond_with(routes.clone())
            .mount(server)
            .await;
        routes
    }

    /// A tag that is already there.
    pub fn add(&self, name: &str, commit: &str) {
        self.state.lock().unwrap().tags.push((name.to_owned(), commit.to_owned()));
    }

    /// Another run creates `name` on `commit` right after the next listing: the listing does not show it,
    /// a create of the same name right after finds it taken.
    pub fn race_after_next_list(&self, name: &str, commit: &str) {
        self.state.lock().unwrap().racing = Some((name.to_owned(), commit.to_owned()));
    }

    /// Every tag, in creation order.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().tags.clone()
    }

    fn compare(&self, range: &str) -> ResponseTemplate {
        let Some((base, head)) = range.split_once("...") else { return ResponseTemplate::new(404) };
        let out = std::process::Command::new("git")
            .args(["rev-list", "--count", &format!("{base}..{head}")])
            .current_dir(&self.git_dir)
            .output()
            .expect("git runs");
        if !out.status.success() {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "GetCommit", "url": "u"}));
        }
        let total: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("a count");
        let body = json!({"total_commits": total, "commits": []});
        Spec::forgejo().assert("Compare", &body);
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl Respond for TagRoutes {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if let Some((_, range)) = path.split_once("/compare/") {
            return self.compare(range);
        }
        let mut state = self.state.lock().unwrap();
        match (request.method.as_str(), path.split_once("/tags/")) {
            ("GET", None) => {
                let body: Vec<Value> = state.tags.iter().rev().map(|(n, c)| tag_json(n, c)).collect();
                let total = body.len().to_string();
                if let Some(racing) = state.racing.take() {
                    state.tags.push(racing);
                }
                for tag in &body {
                    Spec::forgejo().assert("Tag", tag);
                }
                ResponseTemplate::new(200).set_body_json(body).insert_header("x-total-count", total)
            }
            ("GET", Some((_, name))) => match state.tags.iter().find(|(n, _)| n == name) {
                Some((n, c)) => ResponseTemplate::new(200).set_body_json(tag_json(n, c)),
                None => ResponseTemplate::new(404).set_body_json(json!({"message": "tag not found", "url": "u"})),
            },
            ("POST", None) => {
                let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
                Spec::forgejo().assert("CreateTagOption", &body);
                let (name, target) = (body["tag_name"].as_str().unwrap(), body["target"].as_str().unwrap_or_default());
                if state.tags.iter().any(|(n, _)| n == name) {
                    return ResponseTemplate::new(409)
                        .set_body_json(json!({"message": format!("tag {name} already exists"), "url": "u"}));
                }
                state.tags.push((name.to_owned(), target.to_owned()));
                ResponseTemplate::new(201).set_body_json(tag_json(name, target))
            }
            _ => ResponseTemplate::new(405),
        }
    }
}
