//! The workflow's parts that come from `.offinfra.yml`: lint and test steps, registry logins, one build
//! per image, a push per extra destination, and the flags that differ for a CronJob-only app. Each is
//! YAML text at the workflow's step indentation, filled into the build template's placeholders.

use offinfra_types::ImageName;

use super::repo_file::{ImageBuild, RepoSettings, WorkloadKind};
use crate::Error;

/// Step items sit at six spaces, their keys at eight.
const KEY: &str = "        ";

/// The placeholders of the build template that `.offinfra.yml` decides, and the deployed image.
pub(super) struct WorkflowParts {
    /// The image `flow` pushes and the deploy pipeline runs.
    pub deployed: ImageName,
    /// `(placeholder, text)` pairs.
    pub values: Vec<(&'static str, String)>,
}

/// The parts for `repo`; `deployed` is the image when `.offinfra.yml` names none (its first image's first
/// destination otherwise, unless `image_flag` overrides that one).
pub(super) fn workflow_parts(
    repo: &RepoSettings,
    default_image: ImageName,
    image_flag: Option<ImageName>,
) -> Result<WorkflowParts, Error> {
    let mut images = repo.images.clone();
    if images.is_empty() {
        let default =
            ImageBuild { dockerfile: None, context: ".".into(), build_args: Vec::new(), destinations: Vec::new() };
        images.push(ImageBuild { destinations: vec![default_image], ..default });
    }
    if let Some(image) = image_flag {
        images[0].destinations[0] = image;
    }
    let deployed = images[0].destinations[0].clone();
    let single = images.len() == 1 && images[0].destinations.len() == 1;

    let mut checks = String::new();
    for (kind, commands) in [("lint", &repo.lint), ("test", &repo.test)] {
        for (i, command) in commands.iter().enumerate() {
            let name = if commands.len() == 1 { kind.to_owned() } else { format!("{kind} ({})", i + 1) };
            checks += &format!("      - name: {name}\n{KEY}{}\n", run(command));
        }
    }

    let mut logins = String::new();
    for login in &repo.registries {
        // The host is held to [a-z0-9.-:] by the parser; the user is quoted for the shell.
        let command = format!(
            "printf '%s' \"$PASSWORD\" | docker login {} --username {} --password-stdin",
            login.registry,
            shell_quote(&login.username)
        );
        logins += &format!(
            "      - name: log in to {}\n{KEY}{}\n{KEY}env:\n{KEY}  PASSWORD: ${{{{ secrets.{} }}}}\n",
            login.registry,
            run(&command),
            login.password_secret
        );
    }

    let mut builds = String::new();
    let mut pushes = String::new();
    for (i, image) in images.iter().enumerate() {
        let layout = if i == 0 { "image.tar".to_owned() } else { format!("image-{}.tar", i + 1) };
        let mut command = "docker buildx build --platform linux/amd64 --provenance=false".to_owned();
        if let Some(file) = &image.dockerfile {
            command += &format!(" --file {}", shell_quote(file));
        }
        for (key, value) in &image.build_args {
            command += &format!(" --build-arg {}", shell_quote(&format!("{key}={value}")));
        }
        command += &format!(" --output type=oci,dest={layout} {}", shell_quote(&image.context));
        let what = if single { "the image".to_owned() } else { image.destinations[0].to_string() };
        builds += &format!(
            "      - name: build {what} (linux/amd64, one manifest, no attestations)\n{KEY}{}\n",
            run(&command)
        );
        for (j, destination) in image.destinations.iter().enumerate() {
            if (i, j) == (0, 0) {
                continue; // flow pushes this one, tags and deploys it
            }
            pushes += &push_step(repo, &layout, destination, (i, j))?;
        }
    }
    let binaries = if pushes.is_empty() { "./flow" } else { "./flow ./push-image" };
    let deploy_flags = match repo.workload.kind {
        WorkloadKind::CronJob => " --skip-deploy",
        _ => " --wait --timeout 600s",
    };
    let values = vec![
        ("check_steps", checks),
        ("login_steps", logins),
        ("build_steps", builds),
        ("push_steps", pushes),
        ("binaries", binaries.to_owned()),
        ("flow_deploy_flags", deploy_flags.to_owned()),
    ];
    Ok(WorkflowParts { deployed, values })
}

/// A push of `layout` to `destination` as `:<sha8>` and `:latest`: ghcr.io with the job's token, any other
/// registry with the login `.offinfra.yml` gives it (push-image reads docker's stored credentials).
fn push_step(repo: &RepoSettings, layout: &str, destination: &ImageName, at: (usize, usize)) -> Result<String, Error> {
    let push = format!("push-image --layout {layout} --repository {destination} --sha \"$GITHUB_SHA\" --tag latest");
    if destination.registry() == "ghcr.io" {
        let command = format!("printf '%s' \"$GITHUB_TOKEN\" | {push} --username \"$GITHUB_ACTOR\" --password-stdin");
        return Ok(format!(
            "      - name: push {destination}\n{KEY}{}\n{KEY}env:\n{KEY}  GITHUB_TOKEN: ${{{{ github.token }}}}\n",
            run(&command)
        ));
    }
    let hub = |host: &str| matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    let logged_in = repo
        .registries
        .iter()
        .any(|login| login.registry == destination.registry() || (hub(&login.registry) && hub(destination.registry())));
    if !logged_in {
        return Err(Error::invalid(format!(
            "{}: images[{}].destinations[{}] {destination} needs a login: add {} under registries",
            super::repo_file::REPO_FILE,
            at.0,
            at.1,
            destination.registry()
        )));
    }
    Ok(format!("      - name: push {destination}\n{KEY}{}\n", run(&push)))
}

/// `run: <command>` as a plain YAML scalar when that surely reads back as the same string (words that start
/// with a letter, no `: ` or ` #`: never a number, a boolean or a null), else a literal block. `command`
/// has no blank space around it ([`super::RepoSettings`] trims it).
fn run(command: &str) -> String {
    let plain = !command.contains(['\n', '\t'])
        && command.contains(' ')
        && !command.contains(": ")
        && !command.contains(" #")
        && !command.ends_with(':')
        && command.trim() == command
        && command.starts_with(|c: char| c.is_ascii_alphabetic() || "./_".contains(c));
    match plain {
        true => format!("run: {command}"),
        false => {
            let lines: Vec<String> = command.lines().map(|l| format!("{KEY}  {l}")).collect();
            format!("run: |\n{}", lines.join("\n"))
        }
    }
}

/// `word` as one shell word: as it is when it holds nothing the shell reads, else single-quoted.
fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"._/-=:,+@".contains(&b));
    match safe {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_scripts_reach_the_shell_and_yaml_as_written() {
        assert_eq!(shell_quote("docker/app.Dockerfile"), "docker/app.Dockerfile");
        assert_eq!(shell_quote("A=it's here"), r"'A=it'\''s here'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(run("cargo test"), "run: cargo test");
        assert_eq!(run("echo a: b"), format!("run: |\n{KEY}  echo a: b"));
        assert_eq!(run("make\nmake check"), format!("run: |\n{KEY}  make\n{KEY}  make check"));
        assert_eq!(run("'quoted' start"), format!("run: |\n{KEY}  'quoted' start"));
        assert_eq!(run("true"), format!("run: |\n{KEY}  true"), "a word YAML would read as a boolean");
        // Every rendered form reads back as the command.
        for command in
            ["cargo test", "echo a: b # not a comment", "make\nmake check", "'x' y", "a:", "true", "1.5", "~"]
        {
            let yaml = format!("steps:\n  - {}\n", run(command).replace(&format!("\n{KEY}"), "\n    "));
            let doc = &yaml_rust2::YamlLoader::load_from_str(&yaml).unwrap()[0];
            let back = doc["steps"][0]["run"].as_str().unwrap().trim_end_matches('\n');
            assert_eq!(back, command, "{yaml}");
        }
    }
}
