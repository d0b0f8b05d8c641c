//! The README's "Write your own app" says what `make test-starter` does:
//! its commands are `tests/starter/outside.sh`'s, in order, and its two
//! code blocks are the starter's own `main` and host test, so the section
//! cannot drift from what is run.
use std::fs;
use std::path::Path;

fn read(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// The README section "Write your own app", up to the next `## `.
fn section() -> String {
    let readme = read("README.md");
    let start = readme.find("## Write your own app").expect("the section");
    let rest = &readme[start + 3..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

/// A shell command without its trailing comment and surrounding blanks.
fn command(line: &str) -> String {
    let line = match line.find("  #") {
        Some(at) => &line[..at],
        None => line,
    };
    line.trim().to_string()
}

#[test]
fn the_readme_commands_are_the_ones_make_test_runs() {
    let section = section();
    let commands = &section[..section.find("```").unwrap_or(section.len())];
    let readme: Vec<String> = commands
        .lines()
        .filter(|line| line.starts_with("    "))
        .map(command)
        .collect();
    assert!(readme.len() >= 8, "{readme:?}");
    let script = read("tests/starter/outside.sh");
    let start = script
        .find("# ---- README: Write your own app ----")
        .unwrap();
    let end = script
        .find("# ---- end of the README's commands ----")
        .unwrap();
    let run: Vec<String> = script[start..end]
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("stage ") && !line.is_empty())
        .map(command)
        .filter(|line| line != "cd \"$work\"")
        .collect();
    assert_eq!(readme, run);
}

#[test]
fn the_readme_code_is_the_starters_code() {
    let section = section();
    let blocks: Vec<&str> = section
        .split("```rust\n")
        .skip(1)
        .map(|block| &block[..block.find("```").unwrap()])
        .collect();
    assert_eq!(blocks.len(), 2);
    let main = read("apps/hello/src/main.rs");
    let test = read("apps/hello/tests/sim.rs");
    for line in blocks[0].lines() {
        assert!(main.contains(line), "apps/hello/src/main.rs lacks {line:?}");
    }
    for line in blocks[1].lines() {
        assert!(
            test.contains(line),
            "apps/hello/tests/sim.rs lacks {line:?}"
        );
    }
}

#[test]
fn the_starter_is_as_small_as_the_readme_says() {
    let code_lines = ["apps/hello/src/lib.rs", "apps/hello/src/main.rs"]
        .iter()
        .flat_map(|path| read(path).lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with("//")
        })
        .count();
    assert!(code_lines < 50, "{code_lines} lines of code");
    assert!(
        section().contains(&format!("({code_lines} lines of code)")),
        "the README should say {code_lines} lines of code"
    );
}
