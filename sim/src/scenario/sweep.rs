//! Sweeps: a grid or a list over any scenario parameters, addressed by dotted
//! paths into the document (`adversary.entry_fraction_m`).

use std::collections::BTreeMap;

use super::Sweep;

/// One point's parameter values.
pub type Overrides = BTreeMap<String, serde_json::Value>;

/// Expands a sweep into points in a fixed order: grid keys in sorted order,
/// the last key varying fastest; list entries as written.
pub fn expand(s: &Sweep) -> Result<Vec<Overrides>, (String, String)> {
    match (&s.grid, &s.list) {
        (Some(_), Some(_)) | (None, None) => Err((
            "sweep".into(),
            "expected exactly one of `grid` or `list`".into(),
        )),
        (Some(g), None) => {
            let mut out = vec![Overrides::new()];
            for (k, values) in g {
                if values.is_empty() {
                    return Err((
                        format!("sweep.grid.{k}"),
                        "expected at least one value".into(),
                    ));
                }
                let mut next = Vec::with_capacity(out.len() * values.len());
                for o in &out {
                    for v in values {
                        let mut o = o.clone();
                        o.insert(k.clone(), v.clone());
                        next.push(o);
                    }
                }
                out = next;
            }
            Ok(out)
        }
        (None, Some(l)) => {
            if l.is_empty() {
                return Err(("sweep.list".into(), "expected at least one point".into()));
            }
            Ok(l.clone())
        }
    }
}

/// Sets `path` in `doc` to `value`; the path must name an existing field
/// (or a field with a default that serialises as present).
pub fn apply(
    doc: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> Result<(), String> {
    if path.starts_with("sweep") || path == "seed" || path == "replications" {
        return Err(format!("{path} cannot be swept"));
    }
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = cur.as_object_mut().ok_or_else(|| {
            format!(
                "unknown parameter {path}: {} is not a section",
                parts[..i].join(".")
            )
        })?;
        if !obj.contains_key(*part) {
            let known: Vec<&String> = obj.keys().collect();
            return Err(format!(
                "unknown parameter {path}: no field {part:?} here; expected one of {known:?}"
            ));
        }
        if i + 1 == parts.len() {
            obj.insert((*part).to_owned(), value);
            return Ok(());
        }
        cur = obj.get_mut(*part).ok_or("unreachable")?;
    }
    Err(format!("empty parameter path {path:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grid_is_the_cartesian_product_in_sorted_key_order() {
        let mut g = BTreeMap::new();
        g.insert("b".to_owned(), vec![json!(1), json!(2)]);
        g.insert("a".to_owned(), vec![json!("x"), json!("y"), json!("z")]);
        let pts = expand(&Sweep {
            grid: Some(g),
            list: None,
        })
        .unwrap();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0]["a"], json!("x"));
        assert_eq!(pts[0]["b"], json!(1));
        assert_eq!(pts[1]["b"], json!(2));
        assert_eq!(pts[5]["a"], json!("z"));
    }

    #[test]
    fn apply_refuses_unknown_paths() {
        let mut d = json!({"adversary": {"entry_fraction_m": 0.1}});
        apply(&mut d, "adversary.entry_fraction_m", json!(0.3)).unwrap();
        assert_eq!(d["adversary"]["entry_fraction_m"], json!(0.3));
        let e = apply(&mut d, "adversary.nope", json!(1)).unwrap_err();
        assert!(e.contains("unknown parameter"), "{e}");
        assert!(apply(&mut d, "seed", json!(1)).is_err());
    }
}
