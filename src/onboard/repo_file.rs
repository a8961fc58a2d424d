//! `.offinfra.yml`: what a repository keeps about its own build and deploy, read by `onboard` from the
//! onboarded branch and rendered into the workflow and the deploy pipeline. The owner edits this file,
//! not the rendered ones; a re-run renders from it.
//!
//! ```yaml
//! forgejo_repository: viktor/app          # flow reads this one
//! lint: cargo clippy --all-targets -- -D warnings   # a command, or a list; run before the build
//! test: [cargo test --workspace]
//! registries:                             # logged in to before the build (private base images) and pushes
//!   - registry: registry.example.com
//!     username: ci-bot
//!     password_secret: PRIVATE_REGISTRY_TOKEN   # an Actions secret
//! images:                                 # default: one image, ./Dockerfile, to ghcr.io/<owner>/<name>
//!   - dockerfile: docker/app.Dockerfile
//!     context: .
//!     build_args: {FEATURES: full}
//!     destinations: [ghcr.io/viktorbarzin/app, docker.io/viktorbarzin/app]   # the first one deploys
//!   - dockerfile: docker/tools.Dockerfile
//!     destinations: [ghcr.io/viktorbarzin/app-tools]
//! workload:
//!   kind: deployment                      # statefulset, daemonset, or cronjob (see WorkloadKind::CronJob)
//!   namespace: app
//!   name: app
//!   containers: [app, worker]
//! ```

use offinfra_types::ImageName;
use yaml_rust2::{Yaml, YamlLoader};

use crate::Error;

/// Where the settings live in the repository (the file `flow` reads `forgejo_repository` from).
pub const REPO_FILE: &str = crate::flow::CONFIG_FILE;

/// A repository's `.offinfra.yml`. Every field is optional; what is missing takes onboard's flags or
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepoSettings {
    /// Lint commands, run in order before the build (each its own step).
    pub lint: Vec<String>,
    /// Test commands, run after the lint commands.
    pub test: Vec<String>,
    /// Registries logged in to before the build.
    pub registries: Vec<RegistryLogin>,
    /// The images built; empty means one, from `./Dockerfile`, to onboard's `--image`.
    pub images: Vec<ImageBuild>,
    /// The workload the deploy pipeline updates.
    pub workload: Workload,
}

/// A `docker login` before the build.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryLogin {
    /// The registry host (`registry.example.com`, `docker.io`).
    pub registry: String,
    /// The user.
    pub username: String,
    /// The Actions secret holding the password or token.
    pub password_secret: String,
}

/// One image built from the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageBuild {
    /// The Dockerfile, relative to the repository's root (default: `Dockerfile` in the context).
    pub dockerfile: Option<String>,
    /// The build context (default `.`).
    pub context: String,
    /// `--build-arg` pairs, in the file's order.
    pub build_args: Vec<(String, String)>,
    /// Where it is pushed, each as `:<sha8>` and `:latest`; at least one.
    pub destinations: Vec<ImageName>,
}

/// What kind of workload runs the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Deployment (the default).
    #[default]
    Deployment,
    /// A StatefulSet.
    StatefulSet,
    /// A DaemonSet.
    DaemonSet,
    /// CronJobs that run `:latest` with `imagePullPolicy: Always`: nothing to deploy. No deploy pipeline is
    /// written and the build skips the deploy step; `:latest` moves with each build.
    CronJob,
}

impl WorkloadKind {
    /// The name `deploy --kind` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::CronJob => "cronjob",
        }
    }
}

/// The workload the deploy pipeline updates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workload {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace (default: onboard's `--namespace`, else the repository name).
    pub namespace: Option<String>,
    /// Its name (default: `--deployment`, else the repository name).
    pub name: Option<String>,
    /// The containers set to the new image (default: `--container`, else the repository name).
    pub containers: Vec<String>,
}

impl RepoSettings {
    /// Parses the file's text; every error names the key and the file. Unknown keys are errors (a typo
    /// would otherwise be silently ignored).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| invalid("", &e.to_string()))?;
        let root = docs.into_iter().next().unwrap_or(Yaml::Null);
        let root = match root {
            Yaml::Null => return Ok(Self::default()),
            Yaml::Hash(_) => root,
            _ => return Err(invalid("", "expected a mapping of settings")),
        };
        let keys = ["forgejo_repository", "lint", "test", "registries", "images", "workload"];
        check_keys(&root, "", &keys)?;
        let mut settings =
            Self { lint: commands(&root["lint"], "lint")?, test: commands(&root["test"], "test")?, ..Self::default() };
        for (i, login) in list(&root["registries"], "registries")?.iter().enumerate() {
            let at = format!("registries[{i}]");
            check_keys(login, &at, &["registry", "username", "password_secret"])?;
            let registry = string(&login["registry"], &format!("{at}.registry"))?;
            if registry.is_empty() || !registry.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b)) {
                return Err(invalid(&format!("{at}.registry"), "a registry host, e.g. registry.example.com:5000"));
            }
            let username = plain(&login["username"], &format!("{at}.username"))?;
            let password_secret = string(&login["password_secret"], &format!("{at}.password_secret"))?;
            check_secret(&password_secret, &format!("{at}.password_secret"))?;
            settings.registries.push(RegistryLogin { registry, username, password_secret });
        }
        for (i, image) in list(&root["images"], "images")?.iter().enumerate() {
            let at = format!("images[{i}]");
            check_keys(image, &at, &["dockerfile", "context", "build_args", "destinations"])?;
            let dockerfile = optional(&image["dockerfile"], &format!("{at}.dockerfile"))?;
            if let Some(file) = &dockerfile {
                check_path(file, &format!("{at}.dockerfile"))?;
            }
            let context = optional(&image["context"], &format!("{at}.context"))?.unwrap_or_else(|| ".".into());
            check_path(&context, &format!("{at}.context"))?;
            let mut build_args = Vec::new();
            match &image["build_args"] {
                Yaml::BadValue | Yaml::Null => {}
                Yaml::Hash(pairs) => {
                    for (key, value) in pairs {
                        let key = string(key, &format!("{at}.build_args"))?;
                        let ok = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                        if !ok {
                            return Err(invalid(
                                &format!("{at}.build_args.{key}"),
                                "a build argument is a variable name",
                            ));
                        }
                        let value = plain(value, &format!("{at}.build_args.{key}"))?;
                        build_args.push((key, value));
                    }
                }
                _ => return Err(invalid(&format!("{at}.build_args"), "expected a mapping of NAME: value")),
            }
            let mut destinations = Vec::new();
            for (j, destination) in list(&image["destinations"], &format!("{at}.destinations"))?.iter().enumerate() {
                let key = format!("{at}.destinations[{j}]");
                let name = string(destination, &key)?;
                let parsed = ImageName::parse(&name).map_err(|e| invalid(&key, &e.to_string()))?;
                destinations.push(parsed);
            }
            if destinations.is_empty() {
                return Err(invalid(&format!("{at}.destinations"), "name at least one image, e.g. ghcr.io/owner/app"));
            }
            settings.images.push(ImageBuild { dockerfile, context, build_args, destinations });
        }
        let workload = &root["workload"];
        if !matches!(workload, Yaml::BadValue | Yaml::Null) {
            check_keys(workload, "workload", &["kind", "namespace", "name", "containers"])?;
            let kind = match optional(&workload["kind"], "workload.kind")?.as_deref() {
                None | Some("deployment") => WorkloadKind::Deployment,
                Some("statefulset") => WorkloadKind::StatefulSet,
                Some("daemonset") => WorkloadKind::DaemonSet,
                Some("cronjob") => WorkloadKind::CronJob,
                Some(other) => {
                    let why = format!("{other:?}: expected deployment, statefulset, daemonset or cronjob");
                    return Err(invalid("workload.kind", &why));
                }
            };
            settings.workload = Workload {
                kind,
                namespace: optional(&workload["namespace"], "workload.namespace")?,
                name: optional(&workload["name"], "workload.name")?,
                containers: commands(&workload["containers"], "workload.containers")?,
            };
        }
        Ok(settings)
    }

    /// The Actions secrets the rendered workflow reads besides onboard's own: each registry's password.
    pub fn secret_names(&self) -> Vec<String> {
        self.registries.iter().map(|r| r.password_secret.clone()).collect()
    }
}

fn invalid(key: &str, why: &str) -> Error {
    match key {
        "" => Error::invalid(format!("{REPO_FILE}: {why}")),
        key => Error::invalid(format!("{REPO_FILE}: {key}: {why}")),
    }
}

fn check_keys(value: &Yaml, at: &str, known: &[&str]) -> Result<(), Error> {
    let Yaml::Hash(map) = value else { return Err(invalid(at, "expected a mapping")) };
    for key in map.keys() {
        let name = key.as_str().unwrap_or("?");
        if !known.contains(&name) {
            let at = if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") };
            return Err(invalid(&at, &format!("unknown setting (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

fn list<'a>(value: &'a Yaml, key: &str) -> Result<&'a [Yaml], Error> {
    match value {
        Yaml::BadValue | Yaml::Null => Ok(&[]),
        Yaml::Array(items) => Ok(items),
        _ => Err(invalid(key, "expected a list")),
    }
}

/// A string (numbers and booleans as the YAML text wrote them).
fn string(value: &Yaml, key: &str) -> Result<String, Error> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        Yaml::BadValue | Yaml::Null => Err(invalid(key, "missing")),
        _ => Err(invalid(key, "expected a string")),
    }
}

fn optional(value: &Yaml, key: &str) -> Result<Option<String>, Error> {
    match value {
        Yaml::BadValue | Yaml::Null => Ok(None),
        value => string(value, key).map(Some),
    }
}

/// A string that lands in the workflow: one line, no GitHub expression (the workflow passes secrets and
/// context through `env:`, never into a script).
fn plain(value: &Yaml, key: &str) -> Result<String, Error> {
    let text = string(value, key)?;
    check_text(&text, key, false)?;
    Ok(text)
}

fn check_text(text: &str, key: &str, multiline: bool) -> Result<(), Error> {
    if text.contains("${{") {
        return Err(invalid(key, "no ${{ }} expressions: a workflow never expands them into a script (use env)"));
    }
    if !multiline && text.contains(['\n', '\r']) {
        return Err(invalid(key, "one line"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(key, "control characters"));
    }
    Ok(())
}

/// One command or a list of them; each may span lines (a script).
fn commands(value: &Yaml, key: &str) -> Result<Vec<String>, Error> {
    let items: Vec<String> = match value {
        Yaml::BadValue | Yaml::Null => Vec::new(),
        Yaml::Array(items) => {
            items.iter().enumerate().map(|(i, item)| string(item, &format!("{key}[{i}]"))).collect::<Result<_, _>>()?
        }
        value => vec![string(value, key)?],
    };
    for (i, item) in items.iter().enumerate() {
        check_text(item, &format!("{key}[{i}]"), true)?;
        if item.trim().is_empty() {
            return Err(invalid(&format!("{key}[{i}]"), "empty"));
        }
    }
    // Blank space around a script means nothing to the shell, and would change how YAML reads it back.
    Ok(items.into_iter().map(|item| item.trim().to_owned()).collect())
}

/// A path inside the repository.
fn check_path(path: &str, key: &str) -> Result<(), Error> {
    check_text(path, key, false)?;
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part == "..") {
        return Err(invalid(key, "a path inside the repository (relative, no '..')"));
    }
    Ok(())
}

/// GitHub's rule for secret names: letters, digits and '_', not starting with a digit or `GITHUB_`.
fn check_secret(name: &str, key: &str) -> Result<(), Error> {
    let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    match ok {
        true => Ok(()),
        false => Err(invalid(key, "an Actions secret name: letters, digits and '_', not starting with GITHUB_")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("repo_file.rs")
            .lines()
            .skip_while(|l| *l != "//! ```yaml")
            .skip(1)
            .take_while(|l| *l != "//! ```")
            .map(|l| l.strip_prefix("//! ").unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let settings = RepoSettings::parse(&text).unwrap();
        assert_eq!(settings.lint, ["cargo clippy --all-targets -- -D warnings"]);
        assert_eq!(settings.test, ["cargo test --workspace"]);
        assert_eq!(settings.registries[0].password_secret, "PRIVATE_REGISTRY_TOKEN");
        assert_eq!(settings.images.len(), 2);
        assert_eq!(settings.images[0].build_args, [("FEATURES".to_owned(), "full".to_owned())]);
        assert_eq!(settings.images[0].destinations[1].to_string(), "docker.io/viktorbarzin/app");
        assert_eq!(settings.images[1].context, ".");
        assert_eq!(settings.workload.containers, ["app", "worker"]);
        assert_eq!(settings.secret_names(), ["PRIVATE_REGISTRY_TOKEN"]);
        assert_eq!(RepoSettings::parse("").unwrap(), RepoSettings::default());
        assert_eq!(RepoSettings::parse("forgejo_repository: a/b\n").unwrap(), RepoSettings::default());
    }

    #[test]
    fn careless_settings_are_refused_naming_the_key() {
        let err = |text: &str| RepoSettings::parse(text).unwrap_err().to_string();
        assert!(err("lnit: x").contains(".offinfra.yml: lnit: unknown setting"), "{}", err("lnit: x"));
        assert!(err("test: 'echo ${{ secrets.X }}'").contains("test[0]: no ${{ }} expressions"));
        assert!(err("images: [{destinations: []}]").contains("images[0].destinations: name at least one image"));
        assert!(err("images: [{destinations: [Ghcr.io/A/b]}]").contains("images[0].destinations[0]"));
        assert!(err("images: [{context: ../up, destinations: [ghcr.io/a/b]}]").contains("images[0].context"));
        let bad_arg = "images: [{build_args: {'A B': 1}, destinations: [ghcr.io/a/b]}]";
        assert!(err(bad_arg).contains("build_args.A B: a build argument is a variable name"), "{}", err(bad_arg));
        assert!(err("registries: [{registry: r.io, username: u, password_secret: GITHUB_TOKEN}]")
            .contains("password_secret"));
        assert!(err("registries: [{registry: 'r.io; rm', username: u, password_secret: P}]")
            .contains("registries[0].registry"));
        assert!(err("workload: {kind: job}").contains("workload.kind: \"job\": expected"));
        assert!(err("- a").contains("expected a mapping"));
        assert!(err("a: [").contains(".offinfra.yml"));
    }
}
