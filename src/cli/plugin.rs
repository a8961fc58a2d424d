//! Running as a Woodpecker plugin step: how a run is told from one with flags, and which `PLUGIN_*`
//! settings may steer it.

/// Whether the program runs as a Woodpecker plugin: started with no argument at all, as Woodpecker starts
/// a plugin step (the image's own entrypoint, the settings as `PLUGIN_*` variables).
///
/// A step with `commands:` or `entrypoint:` names its flags. Its environment also holds every variable
/// of a manual pipeline, which whoever triggers it chooses (Woodpecker
/// `pipeline/frontend/yaml/compiler/convert.go`, `createProcess`: `nonPluginEnv` is copied into every step
/// that is not a plugin), so there a `PLUGIN_*` variable is nobody's setting and must not steer anything.
pub fn is_plugin_run(args: &[std::ffi::OsString]) -> bool {
    args.len() <= 1
}

/// `command` as it parses `args`: in a plugin run ([`is_plugin_run`]) every flag may fall back to its
/// `PLUGIN_*` setting; with arguments given, no flag reads a `PLUGIN_*` variable (each such fallback is
/// dropped), so a manual pipeline's variables cannot set what the step's own flags left out.
///
/// ```
/// # use clap::CommandFactory;
/// #[derive(clap::Parser)]
/// struct Step {
///     #[arg(long, env = "PLUGIN_NAMESPACE")]
///     namespace: Option<String>,
/// }
/// let with_flags = offinfra::cli::plugin_mode(Step::command(), &["deploy".into(), "--help".into()]);
/// assert!(with_flags.get_arguments().all(|a| a.get_env().is_none()));
/// let as_plugin = offinfra::cli::plugin_mode(Step::command(), &["deploy".into()]);
/// assert!(as_plugin.get_arguments().any(|a| a.get_env().is_some()));
/// ```
pub fn plugin_mode(command: clap::Command, args: &[std::ffi::OsString]) -> clap::Command {
    if is_plugin_run(args) {
        return command;
    }
    command.mut_args(|arg| {
        let from_setting = arg.get_env().is_some_and(|name| name.to_string_lossy().starts_with("PLUGIN_"));
        if from_setting {
            arg.env(None)
        } else {
            arg
        }
    })
}

/// Woodpecker plugin settings for secrets: `settings: token: {from_secret: …}` arrives as `PLUGIN_TOKEN`,
/// while the flag reads its own variable (`WOODPECKER_TOKEN`). In a plugin run only ([`is_plugin_run`]),
/// for each `(variable, setting)` pair, the setting fills the variable when the variable is not set,
/// before the flags are parsed (command line beats variable beats setting).
pub fn plugin_settings(pairs: &[(&str, &str)]) {
    if !is_plugin_run(&std::env::args_os().collect::<Vec<_>>()) {
        return;
    }
    for (variable, setting) in pairs {
        let unset = std::env::var_os(variable).is_none_or(|v| v.is_empty());
        if let (true, Some(value)) = (unset, std::env::var_os(setting).filter(|v| !v.is_empty())) {
            // Before any thread starts: nothing else reads the environment yet.
            std::env::set_var(variable, value);
        }
    }
}
