//! The tools the tests need, where they are looked for, and how they are installed (Debian's packages).

use std::{ffi::OsStr, os::unix::fs::PermissionsExt, path::Path, process::Command};

/// The Kubernetes version of the control plane (Debian's source package 1.20.5+really1.20.2).
pub const KUBERNETES: &str = "1.20.2";

/// The recipes start some programs with a clean environment (`env -i PATH=…`), so those must be in
/// these directories, not only somewhere on the caller's `PATH`.
const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One program the tests or the recipes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The command, or an absolute path.
    pub name: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
    /// What needs it.
    pub why: &'static str,
    /// Run by a recipe with a clean environment: looked for in [`CLEAN_PATH`] only.
    clean_env: bool,
}

const fn tool(name: &'static str, package: &'static str, why: &'static str, clean_env: bool) -> Tool {
    Tool { name, package, why, clean_env }
}

/// What the test suite runs.
pub const TOOLS: &[Tool] = &[
    tool("git", "git", "the svu tests build real git repositories", false),
    tool("/usr/bin/docker-registry", "docker-registry", "the registry tests push to a real registry", true),
    tool("skopeo", "skopeo", "reads back what the registry tests pushed", false),
    tool("htpasswd", "apache2-utils", "the registry's basic-auth mode", false),
    tool("openssl", "openssl", "the registry's token mode and the control plane's certificates", false),
    tool("python3", "python3", "the registry's token server", true),
    tool("curl", "curl", "the recipes' readiness checks", false),
    tool("etcd", "etcd-server", "the Kubernetes control plane's store", true),
    tool("podman", "podman", "runs the shipped deploy image as Woodpecker starts a step", false),
    tool("runc", "runc", "podman's runtime on this machine kind", true),
    tool("strip", "binutils", "strips the binaries the deploy-image test ships", false),
    tool("readelf", "binutils", "the release's glibc gate reads the binaries' version needs", false),
    tool("dpkg", "dpkg", "lists the Debian packages the test's shell-less base is made of", false),
];

/// The platforms' own linters, from PyPI, pinned: they check every workflow file we write or ship.
pub const LINTERS: &[&str] = &["zizmor==1.32.0", "check-jsonschema==0.39.0"];

/// Where the linters' virtual environment lives (`OFFINFRA_LINT_DIR`, else a cache directory named by
/// their versions, so a change of version installs anew).
pub fn lint_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("OFFINFRA_LINT_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let versions: Vec<String> = LINTERS.iter().map(|l| l.replace("==", "-")).collect();
    let base = match is_root() {
        true => std::path::PathBuf::from("/var/cache/offinfra-lint"),
        false => std::env::var_os("HOME")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
            .join(".cache/offinfra-lint"),
    };
    base.join(versions.join("_"))
}

/// Whether the linters in `dir` run.
pub fn linters_run(dir: &Path) -> bool {
    ["zizmor", "check-jsonschema"].iter().all(|name| {
        Command::new(dir.join("bin").join(name)).arg("--version").output().is_ok_and(|o| o.status.success())
    })
}

/// Installs the linters into a virtual environment at `dir` with pip (PyPI), unless they run already.
pub fn install_linters(dir: &Path) -> Result<(), String> {
    if linters_run(dir) {
        return Ok(());
    }
    eprintln!("xtask: pip install {} into {}", LINTERS.join(" "), dir.display());
    let _ = std::fs::remove_dir_all(dir);
    let venv = Command::new("python3").args(["-m", "venv"]).arg(dir).status().map_err(|e| format!("python3: {e}"))?;
    if !venv.success() {
        return Err(format!("python3 -m venv {} failed: install the Debian package python3-venv", dir.display()));
    }
    let pip = Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(LINTERS)
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() || !linters_run(dir) {
        return Err(format!("pip install {} failed ({pip})", LINTERS.join(" ")));
    }
    Ok(())
}

/// What building the control plane once (testenv/k8s-build.sh) runs.
pub const BUILD_TOOLS: &[Tool] = &[
    tool("go", "golang-go", "builds kube-apiserver and kube-controller-manager", false),
    tool("make", "build-essential", "runs the Kubernetes build", false),
    tool("rsync", "rsync", "the Kubernetes build", false),
    tool("jq", "jq", "the Kubernetes build", false),
    tool("dpkg-source", "dpkg-dev", "unpacks Debian's kubernetes source package", false),
    tool("flock", "util-linux", "serialises concurrent builds", false),
    // Off Debian (a GitHub-hosted Ubuntu runner) the recipe fetches Debian's source package from Debian's
    // archive, whose signatures this keyring checks.
    tool(DEBIAN_KEYRING, "debian-archive-keyring", "verifies Debian's kubernetes source package", false),
];

/// Debian's archive keyring, as its package installs it.
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `tool` is found: an absolute name as it is, a command in `path` (or in [`CLEAN_PATH`] for a
/// tool a recipe runs with a clean environment).
pub fn found(tool: &Tool, path: &OsStr) -> bool {
    if tool.name == DEBIAN_KEYRING {
        return Path::new(tool.name).is_file();
    }
    if tool.name.starts_with('/') {
        return is_executable(Path::new(tool.name));
    }
    let dirs = if tool.clean_env { OsStr::new(CLEAN_PATH) } else { path };
    std::env::split_paths(dirs).any(|dir| is_executable(&dir.join(tool.name)))
}

/// The tools not found with `path`: those of the suite, and the build's too unless the control-plane
/// binaries are `built` already.
pub fn missing(path: &OsStr, built: bool) -> Vec<Tool> {
    let build: &[Tool] = if built { &[] } else { BUILD_TOOLS };
    TOOLS.iter().chain(build).filter(|t| !found(t, path)).copied().collect()
}

/// Whether the cached kube-apiserver and kube-controller-manager in `cache` run.
pub fn binaries_run(cache: &Path) -> bool {
    ["kube-apiserver", "kube-controller-manager"].iter().all(|name| {
        let bin = cache.join(name);
        is_executable(&bin) && Command::new(&bin).arg("--version").output().is_ok_and(|out| out.status.success())
    })
}

/// How packages are installed: as root, or through `sudo -n` (a GitHub-hosted runner's user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    /// This process is root.
    Root,
    /// Passwordless sudo.
    Sudo,
}

impl Installer {
    /// A command that runs `program` with the rights to install.
    pub fn command(self, program: &str) -> Command {
        match self {
            Installer::Root => Command::new(program),
            Installer::Sudo => {
                let mut command = Command::new("sudo");
                // -E keeps OFFINFRA_K8S_CACHE and DEBIAN_FRONTEND for the recipe.
                command.args(["-n", "-E", program]);
                command
            }
        }
    }
}

/// Whether installing with apt-get is allowed here (Debian, root or passwordless sudo, and installs not
/// turned off), and how; `Err` says why not.
pub fn install_allowed() -> Result<Installer, String> {
    if std::env::var_os("OFFINFRA_TESTENV_NO_INSTALL").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err("installing is turned off (OFFINFRA_TESTENV_NO_INSTALL)".to_owned());
    }
    if !Path::new("/etc/debian_version").exists() || !is_executable(Path::new("/usr/bin/apt-get")) {
        return Err("this is not a Debian system with apt-get".to_owned());
    }
    if is_root() {
        return Ok(Installer::Root);
    }
    let sudo = Command::new("sudo").args(["-n", "true"]).output().is_ok_and(|o| o.status.success());
    match sudo {
        true => Ok(Installer::Sudo),
        false => Err("installing needs root or passwordless sudo (sudo -n)".to_owned()),
    }
}

/// The effective user id is 0 (read from /proc, so no unsafe call is needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0")
    })
}

/// `apt-get update` once, then `apt-get install` of the packages of `tools`.
pub fn apt_install(installer: Installer, tools: &[Tool]) -> Result<(), String> {
    let mut packages: Vec<&str> = tools.iter().map(|t| t.package).collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.contains(&"curl") {
        packages.push("ca-certificates");
    }
    eprintln!("xtask: apt-get install {}", packages.join(" "));
    let run = |args: &[&str]| -> Result<(), String> {
        let status = installer
            .command("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("apt-get {} failed ({status})", args.join(" ")))
        }
    };
    run(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    run(&install)
}

/// The error for a machine that lacks `missing` (and the control-plane binaries, when `cache` is given)
/// and cannot install them: each tool with its package and what needs it.
pub fn report(missing: &[Tool], cache: Option<&Path>, why: &str) -> String {
    let mut text = format!("the test environment is incomplete and {why}:\n");
    for tool in missing {
        text.push_str(&format!("  - {}: install the Debian package `{}` ({})\n", tool.name, tool.package, tool.why));
    }
    if let Some(cache) = cache {
        text.push_str(&format!(
            "  - kube-apiserver and kube-controller-manager {KUBERNETES} in {}: built once from Debian's kubernetes \
             source package by `cargo xtask test-env up` as root (3.5 to 7 minutes), or set OFFINFRA_K8S_CACHE to a \
             directory that holds both\n",
            cache.display()
        ));
    }
    text.push_str("On Debian, as root, `cargo xtask test` installs and builds all of this itself.");
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn an_empty_path_misses_every_path_tool() {
        let empty = tempfile_dir("empty");
        let path = std::env::join_paths([&empty]).unwrap();
        let names: Vec<&str> = missing(&path, true).iter().map(|t| t.name).collect();
        for expected in ["git", "skopeo", "htpasswd", "openssl", "curl"] {
            assert!(names.contains(&expected), "{expected} not reported missing: {names:?}");
        }
        let with_build: Vec<&str> = missing(&path, false).iter().map(|t| t.name).collect();
        assert!(with_build.contains(&"go") && with_build.contains(&"make"), "{with_build:?}");
    }

    #[test]
    fn a_tool_is_found_when_an_executable_of_its_name_is_on_the_path() {
        let dir = tempfile_dir("bin");
        let path = std::env::join_paths([&dir]).unwrap();
        let git = TOOLS.iter().find(|t| t.name == "git").unwrap();
        assert!(!found(git, &path));
        std::fs::write(dir.join("git"), "#!/bin/sh\n").unwrap();
        assert!(!found(git, &path), "a file that is not executable is not a tool");
        std::fs::set_permissions(dir.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(found(git, &path));
    }

    #[test]
    fn clean_environment_tools_ignore_the_callers_path() {
        let dir = tempfile_dir("clean");
        std::fs::write(dir.join("etcd"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("etcd"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&dir]).unwrap();
        let etcd = TOOLS.iter().find(|t| t.name == "etcd").unwrap();
        let in_clean_path = std::env::split_paths(CLEAN_PATH).any(|d| is_executable(&d.join("etcd")));
        assert_eq!(found(etcd, &path), in_clean_path, "the recipes would not find an etcd that is only on PATH");
    }

    #[test]
    fn the_report_names_each_tool_its_package_and_the_binaries() {
        let missing = [TOOLS[1], TOOLS[2]];
        let text = report(&missing, Some(Path::new("/cache/bin")), "installing needs root");
        assert!(text.starts_with("the test environment is incomplete and installing needs root:"), "{text}");
        assert!(text.contains("/usr/bin/docker-registry: install the Debian package `docker-registry`"), "{text}");
        assert!(text.contains("skopeo: install the Debian package `skopeo`"), "{text}");
        assert!(text.contains("kube-apiserver and kube-controller-manager 1.20.2 in /cache/bin"), "{text}");
        assert!(!report(&missing, None, "x").contains("kube-apiserver"));
    }

    #[test]
    fn binaries_that_do_not_run_are_not_built() {
        let dir = tempfile_dir("cache");
        assert!(!binaries_run(&dir));
        for name in ["kube-apiserver", "kube-controller-manager"] {
            std::fs::write(dir.join(name), "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert!(binaries_run(&dir));
        std::fs::write(dir.join("kube-apiserver"), "#!/bin/sh\nexit 3\n").unwrap();
        assert!(!binaries_run(&dir), "a binary whose --version fails is broken");
    }

    /// A fresh directory under the system temp dir, unique to this test process and `name`.
    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
