//! Replays the fuzz corpus (`protocol/fuzz/corpus/<target>/`) through every
//! decoder target, on stable and in CI, where libFuzzer cannot run: every
//! input the fuzzer kept (each reached new code) must still be handled
//! without a panic, and a corpus must not go missing.

mod decoders;

use std::path::PathBuf;

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target)
}

#[test]
fn every_target_has_a_seed_corpus_and_handles_all_of_it() {
    for (name, target) in decoders::TARGETS {
        let dir = corpus(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            target(&bytes);
            n += 1;
        }
        assert!(n > 0, "{name}: empty corpus at {}", dir.display());
    }
}

#[test]
fn every_fuzz_binary_is_a_listed_target() {
    let bins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&bins)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    let mut listed: Vec<String> = decoders::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    listed.sort();
    assert_eq!(names, listed);
}
