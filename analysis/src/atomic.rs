//! Writing a file so that a reader never sees half of it: the bytes go to
//! a temporary file beside it, which is then renamed over it ("no lost
//! results when a run is interrupted").

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through `path.tmp` and a rename. On failure,
/// the file that could not be written and why.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| (tmp.clone(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| (path.to_owned(), e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_whole_files_and_names_the_one_that_failed() {
        let dir = std::env::temp_dir().join(format!("p2p-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or(());
        let f = dir.join("a.json");
        super::write(&f, b"one").unwrap_or_else(|(p, e)| panic!("{}: {e}", p.display()));
        super::write(&f, b"two").unwrap_or_else(|(p, e)| panic!("{}: {e}", p.display()));
        assert_eq!(std::fs::read(&f).ok().as_deref(), Some(&b"two"[..]));
        assert!(
            !dir.join("a.tmp").exists(),
            "the temporary file is renamed away"
        );
        let missing = dir.join("no-such-folder").join("b.json");
        let failed = super::write(&missing, b"x").err().map(|(p, _)| p);
        assert_eq!(failed, Some(missing.with_extension("tmp")));
        std::fs::remove_dir_all(&dir).unwrap_or(());
    }
}
