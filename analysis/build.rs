//! Embeds the whitepaper reproduction set (scenarios/whitepaper/*.yaml) in
//! the binary, so `p2psim repro` runs wherever the binary is, and the git
//! commit it is built from (`P2PSIM_GIT_COMMIT`), so every manifest names
//! the code that produced it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    embed_commit();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/whitepaper");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from(
        "/// The reproduction set: (file name, text), in name order.\n\
         pub const WHITEPAPER: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("embedded.rs");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("writing {}: {e}", target.display());
    }
}

/// `git` in the workspace, its trimmed output when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8(out.stdout)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `P2PSIM_GIT_COMMIT`: HEAD, `-dirty` with uncommitted changes to tracked
/// files, `unknown` outside a checkout. The script reruns when HEAD, the
/// branch it points to, the index or any source folder changes.
fn embed_commit() {
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{head}-dirty") } else { head }
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=P2PSIM_GIT_COMMIT={commit}");
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for name in ["HEAD", "index"]
        .into_iter()
        .map(str::to_owned)
        .chain(branch)
    {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for dir in ["src", "../protocol/src", "../sim/src", "../scenarios"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
