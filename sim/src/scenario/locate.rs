//! Where a field sits in a scenario's text: the line and column of a
//! dotted path (list items and flow style included), of a key's value, and
//! of a value its type refused, so that every error names the file, line,
//! column and field.

/// Finds the line and column of a dotted field path in block-style YAML
/// (best effort; `(0, 0)` when not found).
pub(super) fn locate(text: &str, path: &str) -> (usize, usize) {
    // A list index (`models[1].name`): find the list, its item, then the
    // rest of the path inside that item (block or flow style).
    if let Some(open) = path.find('[')
        && let Some(close) = path[open..].find(']').map(|c| open + c)
        && let Ok(index) = path[open + 1..close].parse::<usize>()
    {
        let (list_line, _) = locate_keys(text, &path[..open]);
        if list_line > 0 {
            return locate_item(
                text,
                list_line,
                index,
                path[close + 1..].trim_start_matches('.'),
            )
            .unwrap_or((list_line, 1));
        }
    }
    locate_keys(text, path)
}

/// Where a value its type refused sits: at `path`, or, when `path` names a
/// mapping (serde loses the inner path inside internally tagged enums such
/// as `vantage: {kind: as_fraction, share: 7}`), at the one field under it
/// holding the refused number quoted in `message`; that field joins the
/// path.
pub(super) fn refused_value(text: &str, path: &str, message: &str) -> (String, (usize, usize)) {
    let here = locate_value(text, path);
    let quoted = message
        .split('`')
        .nth(1)
        .and_then(|q| q.parse::<f64>().ok());
    let Some(want) = quoted else {
        return (path.to_owned(), here);
    };
    let same = |v: &str| {
        let v = v.trim().trim_end_matches(['}', ',']).trim();
        let v = match v {
            ".nan" | ".NaN" | ".NAN" => "NaN",
            ".inf" | ".Inf" | "+.inf" => "inf",
            "-.inf" | "-.Inf" => "-inf",
            other => other,
        };
        v.parse::<f64>()
            .is_ok_and(|x| x == want || (x.is_nan() && want.is_nan()))
    };
    let (key_line, key_col) = locate(text, path);
    let lines: Vec<&str> = text.lines().collect();
    let mut hits = Vec::new();
    for (n, raw) in lines.iter().enumerate().skip(key_line.saturating_sub(1)) {
        let indent = raw.len() - raw.trim_start().len();
        if n + 1 > key_line && !raw.trim().is_empty() && indent < key_col {
            break;
        }
        let from = if n + 1 == key_line { key_col } else { 0 };
        for (i, _) in raw.match_indices(':').filter(|(i, _)| *i >= from) {
            let before = &raw[..i];
            let key = before
                .rsplit(|c: char| c == '{' || c == ',' || c.is_whitespace())
                .next()
                .unwrap_or("");
            let value = raw[i + 1..].split(',').next().unwrap_or("");
            if !key.is_empty() && same(value) {
                let col = i + 2 + (raw[i + 1..].len() - raw[i + 1..].trim_start().len());
                hits.push((key.to_owned(), (n + 1, col)));
            }
        }
    }
    match hits.as_slice() {
        [(key, at)] if !path.ends_with(key.as_str()) => (format!("{path}.{key}"), *at),
        [(_, at)] => (path.to_owned(), *at),
        _ => (path.to_owned(), here),
    }
}

/// The line and column of the value at `path`: the column after `key:` on
/// the key's line (block or flow style), or the key's position when the
/// value is a block below it.
pub(super) fn locate_value(text: &str, path: &str) -> (usize, usize) {
    let (line, column) = locate(text, path);
    let key = path
        .rsplit('.')
        .next()
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("");
    let Some(raw) = line.checked_sub(1).and_then(|l| text.lines().nth(l)) else {
        return (line, column);
    };
    let raw = raw.split(" #").next().unwrap_or(raw);
    let pat = format!("{key}:");
    let from = column.saturating_sub(1).min(raw.len());
    let found = raw[from..]
        .match_indices(&pat)
        .map(|(i, _)| from + i)
        .find(|&i| i == 0 || matches!(raw.as_bytes()[i - 1], b' ' | b'{' | b',' | b'-'));
    let Some(at) = found.filter(|_| !key.is_empty()) else {
        return (line, column);
    };
    let rest = &raw[at + pat.len()..];
    let value = at + pat.len() + (rest.len() - rest.trim_start().len());
    if value >= raw.trim_end().len() {
        return (line, at + 1);
    }
    (line, value + 1)
}

/// The line and column of item `index` of the list whose key is on
/// 1-based line `list_line`, or of `rest`'s first key inside that item.
fn locate_item(text: &str, list_line: usize, index: usize, rest: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut seen = 0;
    let mut item_indent = None;
    let mut start = None;
    for (n, raw) in lines.iter().enumerate().skip(list_line) {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        if !trimmed.starts_with("- ") {
            if item_indent.is_none_or(|i| indent <= i) {
                break;
            }
            continue;
        }
        match item_indent {
            None => item_indent = Some(indent),
            Some(i) if indent < i => break,
            Some(i) if indent > i => continue,
            _ => {}
        }
        if seen == index {
            start = Some(n);
            break;
        }
        seen += 1;
    }
    let start = start?;
    let indent = item_indent.unwrap_or(0);
    let key = rest.split(['.', '[']).next().unwrap_or("");
    if key.is_empty() {
        return Some((start + 1, indent + 1));
    }
    for (n, raw) in lines.iter().enumerate().skip(start) {
        let trimmed = raw.trim_start();
        let this = raw.len() - trimmed.len();
        if n > start && !trimmed.is_empty() && this <= indent {
            break;
        }
        for pat in [format!("{{{key}:"), format!(" {key}:"), format!("- {key}:")] {
            if let Some(c) = raw.find(&pat) {
                return Some((n + 1, c + pat.len() - key.len()));
            }
        }
        if trimmed.starts_with(&format!("{key}:")) {
            return Some((n + 1, this + 1));
        }
    }
    Some((start + 1, indent + 1))
}

fn locate_keys(text: &str, path: &str) -> (usize, usize) {
    let want: Vec<&str> = path
        .split('.')
        .filter(|s| !s.is_empty() && *s != "?")
        .collect();
    if want.is_empty() {
        return (1, 1);
    }
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut best = (0, 0);
    let mut best_depth = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let Some(colon) = trimmed.find(':') else {
            continue;
        };
        let key = trimmed[..colon]
            .trim()
            .trim_start_matches("- ")
            .trim_matches('"');
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_owned()));
        let keys: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let depth = keys.iter().zip(&want).take_while(|(a, b)| a == b).count();
        if depth == keys.len() && depth > best_depth {
            best = (n + 1, indent + 1);
            best_depth = depth;
            if depth == want.len() {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_keys() {
        let t = "a: 1\nb:\n  c: 2\n  d:\n    e: 3\n";
        assert_eq!(locate(t, "b.d.e"), (5, 5));
        assert_eq!(locate(t, "b.c"), (3, 3));
        assert_eq!(locate(t, "b.zzz"), (2, 1));
        let l = "m:\n  xs:\n    - {a: 1, name: q}\n    - a: 2\n      name: r\n  y: 1\n";
        assert_eq!(locate(l, "m.xs[0].name").0, 3);
        assert_eq!(locate(l, "m.xs[1].name"), (5, 7));
        assert_eq!(locate(l, "m.xs[1]"), (4, 5));
        assert_eq!(locate(l, "m.xs[7].name"), (2, 1));
    }
}
