//! `cargo xtask`: offinfra's test environment in one entry point.
//!
//! ```text
//! cargo xtask test [-- ARGS]      install what is missing, build or reuse the control plane, start it,
//!                                 run `cargo test --workspace ARGS`, stop what this run started
//! cargo xtask test-env up         the same set-up, left running for later `cargo test` runs
//! cargo xtask test-env down       stop what `up` started
//! cargo xtask test-env status     tools, cached binaries and the running control plane
//! ```
//!
//! Services are found by the tests through one directory, `$OFFINFRA_TESTENV_DIR` (default
//! `target/testenv`): the Kubernetes control plane runs in its `k8s/` subdirectory. Registries are
//! started by the tests that need them. See docs/DEVELOPMENT.md.
//!
//! Installing needs Debian (apt-get) and root; anywhere else a missing tool is an error that names it
//! and its package, before anything is built or started.

mod tools;

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, ExitCode, ExitStatus, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use tools::KUBERNETES;

const USAGE: &str = "usage: cargo xtask test [-- CARGO-TEST-ARGS]
       cargo xtask test-env up|down|status

  test              install what is missing (Debian, as root), build or reuse the cached
                    Kubernetes control plane, start it, run `cargo test --workspace`, and stop
                    what this run started, also on failure or Ctrl-C
  test-env up       the same set-up, left running: `cargo test -p <package>` then finds it
  test-env down     stop the control plane that `test-env up` started
  test-env status   what is installed, built and running

environment:
  OFFINFRA_TESTENV_DIR          where running services are recorded [target/testenv]
  OFFINFRA_K8S_CACHE            the built kube-apiserver and kube-controller-manager
                                [/var/cache/offinfra-k8s/1.20.2/bin]
  OFFINFRA_TESTENV_NO_INSTALL=1 never install: report what is missing instead";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Test(Vec<String>),
    Up,
    Down,
    Status,
    Help,
}

fn parse(args: &[String]) -> Result<Task, String> {
    match args.first().map(String::as_str) {
        Some("test") => {
            let rest = &args[1..];
            let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
            Ok(Task::Test(rest.to_vec()))
        }
        Some("test-env") => match args.get(1).map(String::as_str) {
            Some(command @ ("up" | "down" | "status")) if args.len() > 2 => {
                Err(format!("test-env {command} takes no arguments: {}", args[2..].join(" ")))
            }
            Some("up") => Ok(Task::Up),
            Some("down") => Ok(Task::Down),
            Some("status") => Ok(Task::Status),
            Some(other) => Err(format!("unknown test-env command: {other}")),
            None => Err("test-env needs up, down or status".to_owned()),
        },
        Some("-h" | "--help" | "help") => Ok(Task::Help),
        Some(other) => Err(format!("unknown command: {other}")),
        None => Err("no command given".to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match parse(&args) {
        Ok(task) => task,
        Err(e) => {
            eprintln!("xtask: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let env = Paths::from_env();
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Task::Test(extra) => test(&env, &extra),
        Task::Up => up(&env).map(|_| {
            println!("control plane: {}", env.k8s_dir().join("kubeconfig").display());
            println!("tests find it there; stop it with: cargo xtask test-env down");
            ExitCode::SUCCESS
        }),
        Task::Down => down(&env, false).map(|()| ExitCode::SUCCESS),
        Task::Status => status(&env),
    };
    result.unwrap_or_else(|e| {
        eprintln!("xtask: error: {e}");
        ExitCode::FAILURE
    })
}

/// The places the test environment uses.
struct Paths {
    workspace: PathBuf,
    state: PathBuf,
    cache: PathBuf,
    /// The platforms' linters (zizmor, check-jsonschema).
    lint: PathBuf,
}

impl Paths {
    fn from_env() -> Self {
        let workspace =
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ sits in the workspace").to_owned();
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let state = var("OFFINFRA_TESTENV_DIR").unwrap_or_else(|| workspace.join("target/testenv"));
        let cache = var("OFFINFRA_K8S_CACHE")
            .unwrap_or_else(|| PathBuf::from(format!("/var/cache/offinfra-k8s/{KUBERNETES}/bin")));
        Self { workspace, state, cache, lint: tools::lint_dir() }
    }

    fn recipe(&self, name: &str) -> PathBuf {
        self.workspace.join("testenv").join(name)
    }

    fn k8s_dir(&self) -> PathBuf {
        self.state.join("k8s")
    }
}

/// Makes sure every tool is installed and the control-plane binaries are built: installs and builds on
/// Debian as root, and otherwise fails at once naming everything that is missing.
fn prepare(env: &Paths) -> Result<(), String> {
    prepare_with(env, &std::env::var_os("PATH").unwrap_or_default(), tools::install_allowed)
}

/// [`prepare`] with the caller's `PATH` and installer check given, for tests.
fn prepare_with(
    env: &Paths,
    path: &std::ffi::OsStr,
    install_allowed: impl FnOnce() -> Result<tools::Installer, String>,
) -> Result<(), String> {
    let built = tools::binaries_run(&env.cache);
    let missing = tools::missing(path, built);
    if missing.is_empty() && built {
        return tools::install_linters(&env.lint);
    }
    let installer = match install_allowed() {
        Ok(installer) => installer,
        Err(why) => return Err(tools::report(&missing, (!built).then_some(env.cache.as_path()), &why)),
    };
    if !missing.is_empty() {
        tools::apt_install(installer, &missing)?;
        let still = tools::missing(&std::env::var_os("PATH").unwrap_or_default(), built);
        if !still.is_empty() {
            return Err(tools::report(&still, None, "apt-get install did not provide them"));
        }
    }
    if !built {
        eprintln!("xtask: building kube-apiserver and kube-controller-manager {KUBERNETES} once (3.5 to 7 minutes)");
        let status = installer
            .command("sh")
            .arg(env.recipe("k8s-build.sh"))
            .env("OFFINFRA_K8S_CACHE", &env.cache)
            .status()
            .map_err(|e| format!("sh {}: {e}", env.recipe("k8s-build.sh").display()))?;
        if !status.success() || !tools::binaries_run(&env.cache) {
            return Err(format!("k8s-build.sh failed ({status}); its messages are above"));
        }
    }
    tools::install_linters(&env.lint)
}

/// The `https://127.0.0.1:PORT` of a control plane that answers in `dir`, if one does.
fn running_control_plane(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("k8s.env")).ok()?;
    let port: u16 = text.lines().find_map(|l| l.strip_prefix("OFFINFRA_K8S_PORT="))?.trim().parse().ok()?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    Some(format!("https://127.0.0.1:{port}"))
}

/// Prepares and starts the control plane; whether this call started it (false: it was running).
fn up(env: &Paths) -> Result<bool, String> {
    prepare(env)?;
    let dir = env.k8s_dir();
    if let Some(server) = running_control_plane(&dir) {
        eprintln!("xtask: control plane already running at {server} ({})", dir.display());
        return Ok(false);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = Command::new("sh")
        .arg(env.recipe("k8s-up.sh"))
        .arg(&dir)
        .env("OFFINFRA_K8S_CACHE", &env.cache)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("sh {}: {e}", env.recipe("k8s-up.sh").display()))?;
    if !out.status.success() {
        return Err(format!("k8s-up.sh {} failed ({}); its messages are above", dir.display(), out.status));
    }
    Ok(true)
}

/// Stops the control plane in the state dir. `quiet`: the recipe's messages only when it fails, so that
/// the test run's own summary stays the last thing printed.
fn down(env: &Paths, quiet: bool) -> Result<(), String> {
    let dir = env.k8s_dir();
    if !dir.exists() {
        eprintln!("xtask: nothing to stop in {}", dir.display());
        return Ok(());
    }
    let out = Command::new("sh")
        .arg(env.recipe("k8s-down.sh"))
        .arg(&dir)
        .stdin(Stdio::null())
        .stderr(if quiet { Stdio::piped() } else { Stdio::inherit() })
        .output()
        .map_err(|e| format!("sh {}: {e}", env.recipe("k8s-down.sh").display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "k8s-down.sh {} failed ({}): {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

fn status(env: &Paths) -> Result<ExitCode, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let built = tools::binaries_run(&env.cache);
    let missing = tools::missing(&path, true);
    if missing.is_empty() {
        println!("tools: all present");
    } else {
        for tool in &missing {
            println!("tools: missing {} (Debian package {})", tool.name, tool.package);
        }
    }
    match built {
        true => println!("control-plane binaries: {}", env.cache.display()),
        false => println!("control-plane binaries: not built in {}", env.cache.display()),
    }
    match tools::linters_run(&env.lint) {
        true => println!("linters: {}", env.lint.display()),
        false => println!("linters: not installed in {}", env.lint.display()),
    }
    match running_control_plane(&env.k8s_dir()) {
        Some(server) => println!("control plane: running at {server} ({})", env.k8s_dir().display()),
        None => println!("control plane: not running (tests start their own)"),
    }
    Ok(if missing.is_empty() && built { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `cargo xtask test`: set up, run the suite, and stop what this run started, whatever happens.
fn test(env: &Paths, extra: &[String]) -> Result<ExitCode, String> {
    let signals = Arc::new(AtomicUsize::new(0));
    let seen = signals.clone();
    ctrlc::set_handler(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    })
    .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;

    let started = up(env)?;
    let outcome = if signals.load(Ordering::SeqCst) > 0 { Ok(None) } else { run_suite(env, extra, &signals) };
    if started {
        if let Err(e) = down(env, true) {
            eprintln!("xtask: warning: {e}");
        }
    }
    match outcome? {
        None => Ok(ExitCode::from(130)),
        Some(status) if status.success() => Ok(ExitCode::SUCCESS),
        Some(status) => Ok(ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))),
    }
}

/// Runs `cargo test --workspace` in a process group of its own; a Ctrl-C or SIGTERM sent to us goes on
/// to the whole group (a second one kills it). `None` when the run was interrupted.
fn run_suite(env: &Paths, extra: &[String], signals: &AtomicUsize) -> Result<Option<ExitStatus>, String> {
    use std::os::unix::process::CommandExt;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut child = Command::new(&cargo)
        .args(["test", "--workspace"])
        .args(extra)
        .current_dir(&env.workspace)
        .env("OFFINFRA_TESTENV_DIR", &env.state)
        .env("OFFINFRA_K8S_CACHE", &env.cache)
        .env("OFFINFRA_LINT_DIR", &env.lint)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{}: {e}", cargo.to_string_lossy()))?;
    let group = format!("-{}", child.id());
    let mut forwarded = 0;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for cargo test: {e}"))? {
            return Ok(if forwarded > 0 { None } else { Some(status) });
        }
        let now = signals.load(Ordering::SeqCst);
        if now > forwarded {
            let signal = if forwarded == 0 { "INT" } else { "KILL" };
            eprintln!("xtask: interrupted: SIG{signal} to cargo test, then stopping the services");
            let _ = Command::new("kill").args(["-s", signal, "--", &group]).status();
            forwarded = now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&args(&["test"])), Ok(Task::Test(vec![])));
        assert_eq!(parse(&args(&["test", "--", "-p", "svu"])), Ok(Task::Test(args(&["-p", "svu"]))));
        assert_eq!(parse(&args(&["test", "--no-fail-fast"])), Ok(Task::Test(args(&["--no-fail-fast"]))));
        assert_eq!(parse(&args(&["test-env", "up"])), Ok(Task::Up));
        assert_eq!(parse(&args(&["test-env", "down"])), Ok(Task::Down));
        assert_eq!(parse(&args(&["test-env", "status"])), Ok(Task::Status));
        assert_eq!(parse(&args(&["--help"])), Ok(Task::Help));
    }

    #[test]
    fn bad_commands_name_the_input() {
        assert_eq!(parse(&args(&["tset"])), Err("unknown command: tset".to_owned()));
        assert_eq!(parse(&args(&["test-env", "start"])), Err("unknown test-env command: start".to_owned()));
        assert_eq!(parse(&args(&["test-env", "up", "now"])), Err("test-env up takes no arguments: now".to_owned()));
        assert!(parse(&args(&["test-env"])).unwrap_err().contains("up, down or status"));
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn without_tools_and_without_installing_it_fails_at_once_naming_each() {
        let empty = std::env::temp_dir().join(format!("xtask-no-tools-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let env = Paths {
            workspace: ".".into(),
            state: empty.join("state"),
            cache: empty.join("no-cache"),
            lint: empty.join("lint"),
        };
        let start = std::time::Instant::now();
        let err = prepare_with(&env, empty.as_os_str(), || Err("installing needs root".to_owned())).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        for named in ["git", "skopeo", "htpasswd", "apache2-utils", "go:", "golang-go", "kube-apiserver"] {
            assert!(err.contains(named), "{named} is not named in:\n{err}");
        }
        assert!(err.contains("installing needs root"), "{err}");
        assert!(!env.state.exists(), "nothing was started or written");
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn a_running_control_plane_is_found_by_its_port() {
        let dir = std::env::temp_dir().join(format!("xtask-k8s-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(running_control_plane(&dir), None, "no k8s.env");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::fs::write(dir.join("k8s.env"), format!("OFFINFRA_K8S_DIR=x\nOFFINFRA_K8S_PORT={port}\n")).unwrap();
        assert_eq!(running_control_plane(&dir), Some(format!("https://127.0.0.1:{port}")));
        drop(listener);
        assert_eq!(running_control_plane(&dir), None, "nothing answers any more");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
