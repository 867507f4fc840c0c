//! Replays the committed fuzz corpus (`fuzz/corpus/TARGET/*`) through the
//! same entry functions the fuzz targets call, so an input that once made a
//! parser panic, abort or hang fails `cargo test` again.

use std::path::Path;

use ringtender_fuzz_entries::TARGETS;

/// Every target has a corpus, every corpus a target, and every input runs
/// through its target without a panic.
#[test]
fn replay_the_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut dirs: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(dirs, names, "one corpus directory per target");
    for (name, run) in TARGETS {
        let mut inputs: Vec<_> = std::fs::read_dir(root.join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{name}: empty corpus");
        for input in inputs {
            eprintln!("{name}: {}", input.display());
            run(&std::fs::read(&input).unwrap());
        }
    }
}
