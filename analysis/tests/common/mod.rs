//! Helpers shared by the `p2psim` integration tests: running the binary,
//! fresh temporary folders, copying fixtures, and a scenario at a crypto
//! fidelity. Each test crate uses some of them.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `p2psim` with `args` and returns what it did.
pub fn p2psim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p2psim"))
        .args(args)
        .output()
        .unwrap()
}

/// Its standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary folder for test `group`'s `name`, unique to this process,
/// removed if a previous run left it.
pub fn tmp(group: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("p2psim-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The scenario `text` at `fidelity` (a top-level key put first; `full` is
/// the default and leaves the text as it is).
pub fn at_fidelity(text: &str, fidelity: &str) -> String {
    match fidelity {
        "full" => text.to_owned(),
        f => format!("fidelity: {f}\n{text}"),
    }
}
