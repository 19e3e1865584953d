//! The Commands page's menu: predefined jobs declared in a JSON file (as the seed's
//! commands.json was), each a job kind with the parameters an administrator may choose.
//! A command can only ever become a [`JobSpec`]; its values are checked against the
//! declaration and the spec, so no shell command can be expressed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{JobKind, JobSpec};

/// The commands shipped with the portal (INSECTID_COMMANDS_FILE replaces them).
pub const DEFAULT_COMMANDS: &str = include_str!("commands.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The job it queues (a command file naming an unknown kind is refused when read).
    pub kind: JobKind,
    /// What the administrator chooses.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Values the command fixes.
    #[serde(default)]
    pub fixed: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type")]
    pub kind: ParamKind,
    /// For `choice`.
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// An installed model version (its id).
    Model,
    /// A dataset version (NAME@N).
    Dataset,
    /// A folder inside the import directory.
    ImportFolder,
    /// A dataset name.
    Name,
    Integer,
    Choice,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commands(pub Vec<Command>);

#[derive(Debug, thiserror::Error)]
#[error("commands file: {0}")]
pub struct CommandsError(pub String);

impl Commands {
    /// Parses and checks a commands file: unique names, known kinds, and every command's
    /// parameters accepted by its job kind (a sample spec is built from each).
    pub fn parse(text: &str) -> Result<Commands, CommandsError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            commands: Vec<Command>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| CommandsError(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for c in &file.commands {
            if c.name.is_empty() || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                return Err(CommandsError(format!("command name {:?}: use letters, digits, - and _", c.name)));
            }
            if !seen.insert(c.name.clone()) {
                return Err(CommandsError(format!("command {:?} is declared twice", c.name)));
            }
            for p in &c.params {
                if p.kind == ParamKind::Choice && p.choices.is_empty() {
                    return Err(CommandsError(format!("{}: choice {:?} has no choices", c.name, p.name)));
                }
            }
            let sample: BTreeMap<String, String> = c.params.iter().map(|p| (p.name.clone(), sample_value(p))).collect();
            c.spec(&sample).map_err(|e| CommandsError(format!("{}: {e}", c.name)))?;
        }
        Ok(Commands(file.commands))
    }

    pub fn load(path: &Path) -> Result<Commands, CommandsError> {
        let text = std::fs::read_to_string(path).map_err(|e| CommandsError(format!("{}: {e}", path.display())))?;
        Commands::parse(&text)
    }

    pub fn builtin() -> Commands {
        // Checked by a test; an error here would be a bug in the shipped file.
        Commands::parse(DEFAULT_COMMANDS).unwrap_or_default()
    }

    pub fn find(&self, name: &str) -> Option<&Command> {
        self.0.iter().find(|c| c.name == name)
    }
}

fn sample_value(p: &Param) -> String {
    match p.kind {
        ParamKind::Model | ParamKind::Integer => {
            p.default.clone().unwrap_or_else(|| p.min.unwrap_or(1).max(1).to_string())
        }
        ParamKind::Choice => p.choices.first().cloned().unwrap_or_default(),
        ParamKind::Dataset => "sample@1".into(),
        ParamKind::ImportFolder => "sample".into(),
        ParamKind::Name => "sample".into(),
    }
}

impl Command {
    /// The job spec for the values an administrator submitted. Values for parameters the
    /// command does not declare are refused.
    pub fn spec(&self, values: &BTreeMap<String, String>) -> Result<JobSpec, String> {
        if let Some(extra) = values.keys().find(|k| !self.params.iter().any(|p| &p.name == *k)) {
            return Err(format!("{} takes no parameter {extra:?}", self.name));
        }
        let mut object = self.fixed.clone();
        object.insert("kind".into(), Value::String(self.kind.as_str().into()));
        for p in &self.params {
            let given = values.get(&p.name).map(|v| v.trim()).filter(|v| !v.is_empty());
            let Some(raw) = given.map(str::to_string).or_else(|| p.default.clone()) else {
                if p.optional {
                    continue;
                }
                return Err(format!("{} is required", label(p)));
            };
            let value = match p.kind {
                ParamKind::Model | ParamKind::Integer => {
                    let n: i64 =
                        raw.parse().map_err(|_| format!("{} must be a whole number, not {raw:?}", label(p)))?;
                    if p.min.is_some_and(|m| n < m) || p.max.is_some_and(|m| n > m) {
                        return Err(format!(
                            "{} must be between {} and {}",
                            label(p),
                            p.min.unwrap_or(i64::MIN),
                            p.max.unwrap_or(i64::MAX)
                        ));
                    }
                    Value::from(n)
                }
                ParamKind::Choice => {
                    if !p.choices.contains(&raw) {
                        return Err(format!("{} must be one of {}", label(p), p.choices.join(", ")));
                    }
                    Value::String(raw)
                }
                ParamKind::Dataset | ParamKind::ImportFolder | ParamKind::Name => Value::String(raw),
            };
            object.insert(p.name.clone(), value);
        }
        let spec: JobSpec =
            serde_json::from_value(Value::Object(object)).map_err(|e| format!("not a valid {} job: {e}", self.kind))?;
        spec.validate()?;
        Ok(spec)
    }
}

fn label(p: &Param) -> &str {
    if p.label.is_empty() {
        &p.name
    } else {
        &p.label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_shipped_commands_cover_every_job_kind() {
        let commands = Commands::parse(DEFAULT_COMMANDS).unwrap();
        use sea_orm::Iterable;
        let kinds: std::collections::HashSet<JobKind> = commands.0.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, JobKind::iter().collect());
    }

    #[test]
    fn submitted_values_become_a_typed_spec() {
        let commands = Commands::builtin();
        let evaluate = commands.find("evaluate").unwrap();
        let spec = evaluate.spec(&values(&[("model", "4"), ("dataset", "rp11@1"), ("split", "val")])).unwrap();
        assert_eq!(spec, JobSpec::Evaluate { model: 4, dataset: "rp11@1".into(), split: "val".into() });
        assert_eq!(
            evaluate.spec(&values(&[("model", "4"), ("dataset", "rp11@1"), ("split", "all")])).unwrap_err(),
            "Split must be one of test, val"
        );
        assert!(evaluate.spec(&values(&[("model", "four"), ("dataset", "d@1")])).unwrap_err().contains("whole number"));
        assert!(evaluate.spec(&values(&[("model", "4")])).unwrap_err().contains("required"));
        let extra = evaluate.spec(&values(&[("model", "4"), ("dataset", "d@1"), ("command", "rm -rf /")])).unwrap_err();
        assert!(extra.contains("takes no parameter \"command\""), "{extra}");
    }

    #[test]
    fn a_file_naming_anything_but_a_job_kind_is_refused() {
        let shell = r#"{"commands":[{"name":"x","title":"X","kind":"shell","params":[]}]}"#;
        let err = Commands::parse(shell).unwrap_err().to_string();
        assert!(err.contains("unknown variant `shell`"), "{err}");
        let smuggled = r#"{"commands":[{"name":"x","title":"X","kind":"vacuum","fixed":{"script":"ls"}}]}"#;
        let err = Commands::parse(smuggled).unwrap_err().to_string();
        assert!(err.contains("not a valid vacuum job") && err.contains("script"), "{err}");
        let unknown_field = r#"{"commands":[{"name":"x","title":"X","kind":"vacuum","run":"ls"}]}"#;
        let err = Commands::parse(unknown_field).unwrap_err().to_string();
        assert!(err.contains("unknown field `run`"), "{err}");
        let twice =
            r#"{"commands":[{"name":"x","title":"X","kind":"vacuum"},{"name":"x","title":"Y","kind":"vacuum"}]}"#;
        assert!(Commands::parse(twice).unwrap_err().to_string().contains("twice"));
        let bad_range =
            r#"{"commands":[{"name":"x","title":"X","kind":"clean_files","fixed":{"grace_minutes":999999999}}]}"#;
        let err = Commands::parse(bad_range).unwrap_err().to_string();
        assert!(err.contains("grace_minutes must be between 0 and 43200"), "{err}");
    }
}
