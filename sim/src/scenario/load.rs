//! Loading, validating and expanding scenarios, with errors that name the
//! file, line, column and field path and say what was expected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Scenario;
use super::locate::{locate, locate_value, refused_value};
use super::sweep::{self, Overrides};
use super::validate::validate;

/// A scenario that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The scenario file.
        file: PathBuf,
        /// Why, in words for logs and errors.
        reason: String,
    },
    /// Bad YAML or a field of the wrong type, unknown or out of range.
    #[error("{file}:{line}:{column}: {path}: {message}")]
    Field {
        /// The scenario file.
        file: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// Dotted field path (`.` for the document).
        path: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

/// One sweep point: its parameter values and the scenario they give.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Index in sweep order.
    pub index: u32,
    /// The swept parameters' values (dotted path -> value); empty without a sweep.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The scenario at this point.
    pub scenario: Scenario,
}

impl Point {
    /// The swept values as a person reads them ([`point_label`]).
    pub fn label(&self) -> String {
        point_label(&self.params)
    }
}

/// Swept values as a person reads them: `m=0.1 g=0.25` (the last segment of
/// each path, or its trailing one-letter symbol such as `entry_fraction_m`
/// -> `m`); `(no sweep)` without any.
pub fn point_label(params: &BTreeMap<String, serde_json::Value>) -> String {
    if params.is_empty() {
        return "(no sweep)".into();
    }
    let name = |path: &str| {
        let last = path.rsplit('.').next().unwrap_or(path);
        match last.rsplit_once('_') {
            Some((_, sym)) if sym.len() == 1 => sym.to_owned(),
            _ => last.to_owned(),
        }
    };
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", name(k), value(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A loaded scenario: the text, the base scenario and its points.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Where it came from.
    pub file: PathBuf,
    /// The file's text, verbatim.
    pub text: String,
    /// The scenario as written.
    pub base: Scenario,
    /// Sweep points (one when there is no sweep).
    pub points: Vec<Point>,
}

impl Loaded {
    /// An error at field `path` of this document, with its line and column.
    pub fn field_error(&self, path: String, message: String) -> ScenarioError {
        let (line, column) = locate(&self.text, &path);
        ScenarioError::Field {
            file: self.file.clone(),
            line,
            column,
            path,
            message,
        }
    }
}

/// Loads and validates `path`.
pub fn load_file(path: &Path) -> Result<Loaded, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
        file: path.to_owned(),
        reason: e.to_string(),
    })?;
    load_str(path, &text)
}

/// Loads and validates scenario `text`, reporting errors against `file`.
pub fn load_str(file: &Path, text: &str) -> Result<Loaded, ScenarioError> {
    let field = |path: String, message: String| {
        let (line, column) = locate_value(text, &path);
        ScenarioError::Field {
            file: file.to_owned(),
            line,
            column,
            path,
            message,
        }
    };
    let de = serde_yaml::Deserializer::from_str(text);
    let base: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A value its type refused (a range check) is reported by the YAML
        // parser at its parent mapping: point at the value itself instead.
        let message = inner.to_string();
        let refused = message.contains("invalid value:");
        let (path, (line, column)) = match inner.location() {
            Some(l) if !refused => (path, (l.line(), l.column())),
            _ => refused_value(text, &path, &message),
        };
        ScenarioError::Field {
            file: file.to_owned(),
            line,
            column,
            message: strip_prefix(&path, &strip_location(&message)),
            path,
        }
    })?;
    validate(&base).map_err(|(p, m)| field(p, m))?;
    let base_value = serde_json::to_value(&base).map_err(|e| field(".".into(), e.to_string()))?;
    let overrides: Vec<Overrides> = match &base.sweep {
        None => vec![Overrides::new()],
        Some(s) => sweep::expand(s).map_err(|(p, m)| field(p, m))?,
    };
    let mut points = Vec::with_capacity(overrides.len());
    for (i, o) in overrides.into_iter().enumerate() {
        let mut v = base_value.clone();
        for (path, value) in &o {
            sweep::apply(&mut v, path, value.clone())
                .map_err(|m| field(format!("sweep.{path}"), m))?;
        }
        let de = v.clone();
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            field(
                sweep_key(&o, &path),
                format!(
                    "sweep point {i} sets {path}: {}",
                    strip_location(&e.into_inner().to_string())
                ),
            )
        })?;
        validate(&scenario)
            .map_err(|(p, m)| field(sweep_key(&o, &p), format!("sweep point {i}: {m}")))?;
        points.push(Point {
            index: i as u32,
            params: o,
            scenario: Scenario {
                sweep: None,
                ..scenario
            },
        });
    }
    Ok(Loaded {
        file: file.to_owned(),
        text: text.to_owned(),
        base,
        points,
    })
}

/// The quick variant of `loaded`: its `quick` values applied, as a new
/// scenario document (its text is what the manifest records). A scenario
/// without `quick` is its own quick variant.
pub fn quick_variant(loaded: &Loaded) -> Result<Loaded, ScenarioError> {
    let Some(quick) = &loaded.base.quick else {
        return Ok(loaded.clone());
    };
    let field = |path, message| loaded.field_error(path, message);
    let mut doc =
        serde_json::to_value(&loaded.base).map_err(|e| field(".".into(), e.to_string()))?;
    for (path, value) in quick {
        let at = format!("quick.{path}");
        if path == "replications" {
            if let Some(o) = doc.as_object_mut() {
                o.insert(path.clone(), value.clone());
            }
        } else if let Some(axis) = path.strip_prefix("sweep.grid.") {
            let grid = doc
                .pointer_mut("/sweep/grid")
                .and_then(|g| g.as_object_mut())
                .filter(|g| g.contains_key(axis))
                .ok_or_else(|| field(at.clone(), format!("the sweep has no grid axis {axis:?}")))?;
            grid.insert(axis.to_owned(), value.clone());
        } else if path == "sweep.list" {
            let sweep = doc
                .pointer_mut("/sweep")
                .and_then(|g| g.as_object_mut())
                .filter(|g| g.get("list").is_some_and(serde_json::Value::is_array))
                .ok_or_else(|| field(at.clone(), "the sweep has no list".into()))?;
            sweep.insert("list".to_owned(), value.clone());
        } else {
            sweep::apply(&mut doc, path, value.clone()).map_err(|m| field(at, m))?;
        }
    }
    if let Some(o) = doc.as_object_mut() {
        o.remove("quick");
    }
    let yaml = serde_yaml::to_string(&doc).map_err(|e| field("quick".into(), e.to_string()))?;
    let text = format!(
        "# Quick variant of {} (its `quick` values applied).\n{yaml}",
        loaded.file.display()
    );
    load_str(&loaded.file, &text)
}

/// The sweep key responsible for a problem at `path` (for its location).
fn sweep_key(o: &Overrides, path: &str) -> String {
    o.keys()
        .find(|k| path.starts_with(k.as_str()) || k.starts_with(path))
        .map(|k| format!("sweep.{k}"))
        .unwrap_or_else(|| path.to_owned())
}

/// Drops serde_yaml's own "path: " prefix (the path is reported separately).
fn strip_prefix(path: &str, msg: &str) -> String {
    match msg.split_once(": ") {
        Some((head, rest)) if path.starts_with(head) => rest.to_owned(),
        _ => msg.to_owned(),
    }
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The JSON Schema of scenario files, pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_reads_as_its_swept_symbols() {
        let mut params = BTreeMap::new();
        params.insert(
            "adversary.entry_fraction_m".to_owned(),
            serde_json::json!(0.1),
        );
        params.insert(
            "adversary.exit_fraction_g".to_owned(),
            serde_json::json!(0.25),
        );
        params.insert("protocol.lightning".to_owned(), serde_json::json!("hidden"));
        assert_eq!(point_label(&params), "m=0.1 g=0.25 lightning=hidden");
        assert_eq!(point_label(&BTreeMap::new()), "(no sweep)");
    }

    const BASE: &str = r#"name: q
seed: 1
replications: 3
population: {relays: 10, ghosts: 2, gpus: 0, mints: 1, clients: 4}
workload:
  warmup_s: 60
  duration_s: 100
  drain_s: 10
  sessions_per_client_per_hour: 10
  prompt_tokens: {kind: fixed, value: 10}
  output_tokens: {kind: fixed, value: 10}
sweep:
  grid:
    adversary.entry_fraction_m: [0.1, 0.2, 0.3]
"#;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn quick_variant_applies_its_values() {
        let text = format!(
            "{BASE}quick:\n  replications: 1\n  workload.duration_s: 20\n  sweep.grid.adversary.entry_fraction_m: [0.5]\n"
        );
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        assert_eq!(l.points.len(), 3);
        let q = quick_variant(&l).unwrap();
        assert_eq!(q.base.replications, 1);
        assert_eq!(q.points.len(), 1);
        assert_eq!(q.points[0].scenario.workload.duration_s, 20.0);
        assert_eq!(q.points[0].scenario.adversary.entry_fraction_m.get(), 0.5);
        assert!(q.base.quick.is_none() && q.text.starts_with("# Quick variant of q.yaml"));
        // Without `quick`, the scenario is its own quick variant.
        let plain = load_str(Path::new("p.yaml"), BASE).unwrap();
        assert_eq!(quick_variant(&plain).unwrap().text, BASE);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_bad_quick_value_names_its_line() {
        let text = format!("{BASE}quick:\n  workload.no_such: 1\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(
            e.starts_with("q.yaml:") && e.contains("quick.workload.no_such"),
            "{e}"
        );
        let text = format!("{BASE}quick:\n  sweep.grid.adversary.exit_fraction_g: [0.5]\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(e.contains("no grid axis"), "{e}");
        // A list can be replaced only where the sweep is a list.
        let text = format!("{BASE}quick:\n  sweep.list: [{{workload.duration_s: 5}}]\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        let e = quick_variant(&l).unwrap_err().to_string();
        assert!(e.contains("the sweep has no list"), "{e}");
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_quick_variant_can_replace_a_sweep_list() {
        let listed = BASE.replace(
            "  grid:\n    adversary.entry_fraction_m: [0.1, 0.2, 0.3]\n",
            "  list:\n    - {adversary.entry_fraction_m: 0.1}\n    - {adversary.entry_fraction_m: 0.2}\n",
        );
        let text =
            format!("{listed}quick:\n  sweep.list:\n    - {{adversary.entry_fraction_m: 0.4}}\n");
        let l = load_str(Path::new("q.yaml"), &text).unwrap();
        assert_eq!(l.points.len(), 2);
        let q = quick_variant(&l).unwrap();
        assert_eq!(q.points.len(), 1);
        assert_eq!(q.points[0].scenario.adversary.entry_fraction_m.get(), 0.4);
    }
}
