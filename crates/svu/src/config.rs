//! svu's configuration file (`.svu.yml`) and `SVU_*` environment variables.
//!
//! The file is YAML whose keys are the flag names, flat (`tag.prefix: ""`) or nested
//! (`tag: {prefix: ""}`). It is searched, under the base name of `--config`, in the directory of
//! `--config`, the top of the work tree, the user configuration directory and the home directory.
//! Environment variables are `SVU_` + the upper-cased key with its dots (`SVU_TAG.PREFIX`) and, as in
//! svu, are read only when a configuration file was found. Callers merge the layers with
//! [`Settings::or`]: command line, then environment, then file.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::{Action, BumpOptions, Classifier, Error, Options, Outcome, Repository};

/// The template `svu init` writes.
pub const INIT_TEMPLATE: &str = "# svu configuration.\n#\n# https://github.com/caarlos0/svu\nverbose: false\ntag.pattern: \"\"\ntag.prefix: \"v\"\ntag.mode: all\nlog.directory:\n  - \".\"\nmetadata: \"\"\nalways: false\nv0: false\n";

/// Every key svu reads, plus this crate's `strict`.
pub const KEYS: &[&str] = &[
    "verbose",
    "tag.prefix",
    "tag.pattern",
    "tag.mode",
    "tag.output",
    "prerelease",
    "metadata",
    "json",
    "log.directory",
    "always",
    "v0",
    "strict",
];

/// One layer of settings; `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `verbose`
    pub verbose: Option<bool>,
    /// `tag.prefix`
    pub tag_prefix: Option<String>,
    /// `tag.pattern`
    pub tag_pattern: Option<String>,
    /// `tag.mode`
    pub tag_mode: Option<String>,
    /// `tag.output`
    pub tag_output: Option<String>,
    /// `prerelease`
    pub prerelease: Option<String>,
    /// `metadata`
    pub metadata: Option<String>,
    /// `json`
    pub json: Option<bool>,
    /// `log.directory`
    pub directories: Option<Vec<String>>,
    /// `always`
    pub always: Option<bool>,
    /// `v0`
    pub v0: Option<bool>,
    /// `strict`
    pub strict: Option<bool>,
}

impl Settings {
    /// Each setting from `self`, or else from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            verbose: self.verbose.or(lower.verbose),
            tag_prefix: self.tag_prefix.or(lower.tag_prefix),
            tag_pattern: self.tag_pattern.or(lower.tag_pattern),
            tag_mode: self.tag_mode.or(lower.tag_mode),
            tag_output: self.tag_output.or(lower.tag_output),
            prerelease: self.prerelease.or(lower.prerelease),
            metadata: self.metadata.or(lower.metadata),
            json: self.json.or(lower.json),
            directories: self.directories.or(lower.directories),
            always: self.always.or(lower.always),
            v0: self.v0.or(lower.v0),
            strict: self.strict.or(lower.strict),
        }
    }

    /// Sets `key` from its textual `value` (as found in an environment variable); `origin` names the
    /// source in errors.
    pub fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<(), Error> {
        let flag = |value: &str| {
            parse_bool(value).ok_or_else(|| Error::InvalidSetting {
                key: key.to_owned(),
                value: value.to_owned(),
                origin: origin.to_owned(),
                reason: "expected true or false".into(),
            })
        };
        match key {
            "verbose" => self.verbose = Some(flag(value)?),
            "tag.prefix" => self.tag_prefix = Some(value.to_owned()),
            "tag.pattern" => self.tag_pattern = Some(value.to_owned()),
            "tag.mode" => self.tag_mode = Some(value.to_owned()),
            "tag.output" => self.tag_output = Some(value.to_owned()),
            "prerelease" => self.prerelease = Some(value.to_owned()),
            "metadata" => self.metadata = Some(value.to_owned()),
            "json" => self.json = Some(flag(value)?),
            "log.directory" => self.directories = Some(split_list(value)),
            "always" => self.always = Some(flag(value)?),
            "v0" => self.v0 = Some(flag(value)?),
            "strict" => self.strict = Some(flag(value)?),
            _ => {}
        }
        Ok(())
    }
}

impl Settings {
    /// Turns merged settings into [`Options`] for `action`, with svu's defaults for what is unset.
    /// `next`-only settings (`always`, `v0`) and `log.directory` apply only where svu applies them.
    pub fn to_options(&self, action: Action) -> Result<Options, Error> {
        let defaults = Options::default();
        let tag_mode = match &self.tag_mode {
            Some(mode) => mode.parse()?,
            None => defaults.tag_mode,
        };
        Ok(Options {
            action,
            tag_prefix: self.tag_prefix.clone().unwrap_or(defaults.tag_prefix),
            tag_pattern: self.tag_pattern.clone().unwrap_or_default(),
            tag_mode,
            bump: BumpOptions {
                prerelease: self.prerelease.clone().unwrap_or_default(),
                metadata: self.metadata.clone().unwrap_or_default(),
                always: action == Action::Next && self.always.unwrap_or(false),
                v0: action == Action::Next && self.v0.unwrap_or(false),
            },
            directories: match action {
                Action::Next | Action::Prerelease => self.directories.clone().unwrap_or_default(),
                _ => Vec::new(),
            },
            classifier: if self.strict.unwrap_or(false) { Classifier::Strict } else { Classifier::Svu },
        })
    }

    /// The prefix to print: `tag.output` when set, else `tag.prefix` (default `v`).
    pub fn output_prefix(&self) -> &str {
        self.tag_output.as_deref().or(self.tag_prefix.as_deref()).unwrap_or("v")
    }
}

/// Go's `strconv.ParseBool`, which is what svu accepts for booleans.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A comma-separated list, as a string-slice flag takes it.
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Where svu looks for its configuration file.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    /// The `--config` value (default `.svu.yml`); its directory is searched first, under its base name.
    pub config: PathBuf,
    /// The directory relative `--config` values start from (the current directory).
    pub cwd: PathBuf,
    /// The top of the work tree, if any.
    pub git_root: Option<PathBuf>,
    /// The user configuration directory (`$XDG_CONFIG_HOME`, else `$HOME/.config`).
    pub user_config_dir: Option<PathBuf>,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl SearchPath {
    /// The first existing configuration file, in svu's search order.
    pub fn find(&self) -> Option<PathBuf> {
        let name = self.config.file_name()?;
        let first = match self.config.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => self.cwd.join(dir),
            _ => self.cwd.clone(),
        };
        std::iter::once(first)
            .chain(self.git_root.iter().cloned())
            .chain(self.user_config_dir.iter().cloned())
            .chain(self.home.iter().cloned())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    }
}

/// The settings the svu command line runs with: `flags` (the command line) over the `SVU_*` variables
/// over the configuration file found from `config` (see [`SearchPath`]); as in svu, the variables are
/// read only when a file was found. `var` looks up environment variables (`HOME`, `XDG_CONFIG_HOME`
/// and `SVU_*`).
pub fn layered(
    flags: Settings,
    config: &Path,
    cwd: &Path,
    git_root: Option<PathBuf>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Settings, Error> {
    let path_var = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = path_var("HOME");
    let search = SearchPath {
        config: config.to_owned(),
        cwd: cwd.to_owned(),
        git_root,
        user_config_dir: path_var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config"))),
        home,
    };
    match search.find() {
        Some(path) => {
            let file = load_file(&path)?;
            let env = from_env(&var)?;
            Ok(flags.or(env).or(file))
        }
        None => Ok(flags),
    }
}

/// What the svu command line computed, with everything that decided it ([`compute`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Computed {
    /// The repository, discovered from the working directory.
    pub repo: Repository,
    /// The layered settings: flags over the `SVU_*` variables over the configuration file.
    pub settings: Settings,
    /// The options those settings give for the action.
    pub options: Options,
    /// The version and what decided it.
    pub outcome: Outcome,
}

impl Computed {
    /// svu's `--verbose` line: only when the settings ask for it and there is a bump to explain.
    pub fn verbose_line(&self) -> Option<String> {
        self.settings.verbose.unwrap_or(false).then(|| self.outcome.explain(&self.options)).flatten()
    }

    /// The tag of the computed version: `--tag.prefix` and the version (`v1.3.0`).
    pub fn tag(&self) -> String {
        format!("{}{}", self.options.tag_prefix, self.outcome.version)
    }

    /// The version as svu prints it: `--tag.output` (by default the tag prefix) and the version.
    pub fn printed(&self) -> String {
        format!("{}{}", self.settings.output_prefix(), self.outcome.version)
    }

    /// Whether the computed version is a new one (`next` found nothing to release when it is not).
    pub fn is_new(&self) -> bool {
        self.outcome.version != self.outcome.current
    }
}

/// The svu command line's whole sequence, once: discovers the repository from `cwd`, layers `flags` over
/// the `SVU_*` variables and the configuration file found from `config` ([`layered`], with `var` for the
/// environment), and computes `action`. As in svu, a broken configuration is reported before a directory
/// that is not a repository.
///
/// ```no_run
/// use svu::{config::{self, Settings}, Action};
///
/// let cwd = std::env::current_dir()?;
/// let flags = Settings { strict: Some(true), ..Settings::default() };
/// let computed = config::compute(&cwd, ".svu.yml".as_ref(), flags, Action::Next, |n| std::env::var(n).ok())?;
/// if computed.is_new() {
///     println!("{}", computed.tag()); // v1.3.0
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compute(
    cwd: &Path,
    config: &Path,
    flags: Settings,
    action: Action,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Computed, Error> {
    let repo = Repository::discover(cwd);
    let git_root = repo.as_ref().ok().and_then(|r| r.workdir().map(PathBuf::from));
    let settings = layered(flags, config, cwd, git_root, var)?;
    let options = settings.to_options(action)?;
    let repo = repo?;
    let outcome = repo.compute(&options)?;
    Ok(Computed { repo, settings, options, outcome })
}

/// Reads the settings of configuration file `path`.
pub fn load_file(path: &Path) -> Result<Settings, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::Config { path: path.to_owned(), message: e.to_string() })?;
    parse_yaml(&text, path)
}

/// Parses configuration text (`path` is only used in errors).
pub fn parse_yaml(text: &str, path: &Path) -> Result<Settings, Error> {
    let config_error = |message: String| Error::Config { path: path.to_owned(), message };
    let docs = YamlLoader::load_from_str(text).map_err(|e| config_error(e.to_string()))?;
    let mut settings = Settings::default();
    let Some(doc) = docs.into_iter().next() else { return Ok(settings) };
    let mut flat = Vec::new();
    match doc {
        Yaml::Hash(_) => flatten("", &doc, &mut flat),
        Yaml::Null => return Ok(settings),
        _ => return Err(config_error("expected a mapping of settings at the top level".into())),
    }
    let origin = path.display().to_string();
    for (key, value) in flat {
        let key = key.to_lowercase();
        if key == "log.directory" {
            let dirs = match value {
                Yaml::Array(items) => {
                    items.iter().map(|item| scalar(item, &key, &origin)).collect::<Result<Vec<_>, _>>()?
                }
                Yaml::Null => Vec::new(),
                other => split_list(&scalar(other, &key, &origin)?),
            };
            settings.directories = Some(dirs);
        } else if KEYS.contains(&key.as_str()) {
            let text = match value {
                Yaml::Null => continue,
                other => scalar(other, &key, &origin)?,
            };
            settings.set(&key, &text, &origin)?;
        }
    }
    Ok(settings)
}

fn flatten<'a>(prefix: &str, value: &'a Yaml, out: &mut Vec<(String, &'a Yaml)>) {
    match value {
        Yaml::Hash(map) => {
            for (k, v) in map {
                let name = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                let key = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other)),
    }
}

fn scalar(value: &Yaml, key: &str, origin: &str) -> Result<String, Error> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        Yaml::Null => Ok(String::new()),
        other => Err(Error::InvalidSetting {
            key: key.to_owned(),
            value: format!("{other:?}"),
            origin: origin.to_owned(),
            reason: "expected a single value".into(),
        }),
    }
}

/// The `SVU_*` variables, looked up through `var` (empty values count as unset).
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
    let mut settings = Settings::default();
    for key in KEYS {
        let name = format!("SVU_{}", key.to_uppercase());
        if let Some(value) = var(&name).filter(|v| !v.is_empty()) {
            settings.set(key, &value, &name)?;
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_nested_keys_read_alike() {
        let flat =
            parse_yaml("tag.prefix: \"\"\nalways: true\nv0: true\nlog.directory: [a, b]\n", Path::new("x")).unwrap();
        let nested = parse_yaml(
            "tag:\n  prefix: \"\"\nalways: true\nv0: true\nlog:\n  directory:\n    - a\n    - b\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(flat, nested);
        assert_eq!(flat.tag_prefix.as_deref(), Some(""));
        assert_eq!(flat.always, Some(true));
        assert_eq!(flat.directories, Some(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn the_init_template_parses() {
        let s = parse_yaml(INIT_TEMPLATE, Path::new(".svu.yml")).unwrap();
        assert_eq!(s.tag_prefix.as_deref(), Some("v"));
        assert_eq!(s.tag_mode.as_deref(), Some("all"));
        assert_eq!(s.directories, Some(vec![".".to_owned()]));
        assert_eq!(s.always, Some(false));
    }

    #[test]
    fn bad_values_name_key_and_file() {
        let err = parse_yaml("always: maybe\n", Path::new("/r/.svu.yml")).unwrap_err().to_string();
        assert!(err.contains("always") && err.contains("maybe") && err.contains("/r/.svu.yml"), "{err}");
        let err = parse_yaml("tag: [\n", Path::new("/r/.svu.yml")).unwrap_err().to_string();
        assert!(err.starts_with("config file /r/.svu.yml"), "{err}");
    }

    #[test]
    fn env_keeps_the_dots() {
        let s = from_env(|name| match name {
            "SVU_TAG.PREFIX" => Some("rel-".into()),
            "SVU_METADATA" => Some("".into()),
            "SVU_ALWAYS" => Some("1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.tag_prefix.as_deref(), Some("rel-"));
        assert_eq!(s.metadata, None);
        assert_eq!(s.always, Some(true));
        assert!(from_env(|n| (n == "SVU_V0").then(|| "yes".into())).is_err());
    }

    #[test]
    fn layers_merge_top_down() {
        let cli = Settings { tag_prefix: Some("x".into()), ..Settings::default() };
        let file = Settings { tag_prefix: Some("y".into()), always: Some(true), ..Settings::default() };
        let merged = cli.or(file);
        assert_eq!(merged.tag_prefix.as_deref(), Some("x"));
        assert_eq!(merged.always, Some(true));
    }
}
