//! `make fuzz` (the documented long fuzz run, fuzz/README.md) from a fresh
//! clone: every target the fuzz crate defines can be run by name, and a run
//! never writes into the checked-in corpus (libFuzzer writes new inputs
//! into its *first* corpus directory: that must be a scratch one, outside
//! git's `fuzz/corpus`). Checked with `make -n` (nothing is built or run).
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `[[bin]]` names of the fuzz crate.
fn fuzz_bins() -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(name) = line.strip_prefix("name = ").filter(|_| in_bin) {
            names.push(name.trim_matches('"').to_string());
        }
    }
    names
}

fn make_dry_run(target: &str) -> String {
    let output = Command::new("make")
        .current_dir(root())
        .args([
            "-n",
            "fuzz",
            &format!("FUZZ_TARGET={target}"),
            "FUZZ_SECONDS=1",
        ])
        .output()
        .expect("make is installed (make test needs it)");
    assert!(
        output.status.success(),
        "make -n fuzz FUZZ_TARGET={target}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn make_fuzz_never_writes_into_the_checked_in_corpus() {
    let bins = fuzz_bins();
    assert!(bins.len() >= 6, "{bins:?}");
    let corpus = root().join("fuzz/corpus");
    for target in &bins {
        let script = make_dry_run(target);
        let run = script
            .lines()
            .find(|line| line.contains("cargo fuzz run"))
            .unwrap_or_else(|| panic!("{target}: no `cargo fuzz run` in\n{script}"));
        let words: Vec<&str> = run.split_whitespace().collect();
        let at = words.iter().position(|word| *word == "run").unwrap();
        assert_eq!(words[at + 1], target, "{run}");
        let first = Path::new(words[at + 2]);
        // `cargo fuzz run` runs in fuzz/: a relative path is under it.
        let first = if first.is_absolute() {
            first.to_path_buf()
        } else {
            root().join("fuzz").join(first)
        };
        assert!(
            !first.starts_with(&corpus),
            "{target}: new inputs would go to {} (in git's fuzz/corpus): {run}",
            first.display()
        );
        let ignored = Command::new("git")
            .current_dir(root())
            .args(["check-ignore", "-q"])
            .arg(first.join("input"))
            .status();
        if let Ok(status) = ignored {
            assert!(
                status.success() || !root().join(".git").exists(),
                "{target}: {} is not ignored by git",
                first.display()
            );
        }
        // The checked-in seeds are read when the target has them.
        if corpus.join(target).is_dir() {
            assert!(
                words[at + 3..].contains(&format!("corpus/{target}").as_str()),
                "{target}: the seed corpus is not read: {run}"
            );
        }
        assert!(
            !script.contains("mkdir -p fuzz/corpus"),
            "{target}: {script}"
        );
    }
}

#[test]
fn every_fuzz_target_is_known_to_make_and_has_seeds() {
    let make = std::fs::read_to_string(root().join("mk/fuzz.mk")).unwrap();
    let listed = make
        .lines()
        .find_map(|line| line.strip_prefix("FUZZ_TARGETS"))
        .and_then(|rest| rest.split_once('='))
        .map(|(_, names)| {
            names
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .unwrap();
    let mut bins = fuzz_bins();
    bins.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(bins, listed_sorted, "fuzz/Cargo.toml and mk/fuzz.mk agree");
    for target in &listed {
        let seeds = std::fs::read_dir(root().join("fuzz/corpus").join(target))
            .map(|entries| entries.count())
            .unwrap_or(0);
        assert!(seeds > 0, "{target}: no seed corpus in fuzz/corpus");
    }
}
