//! Runs the example twice on one database file: the first run creates, the second finds what
//! the first made; both resolve the same routes.

use std::process::Command;

#[test]
fn the_example_runs_and_runs_again_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("embed.redb");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_modelgates-example-embed"))
            .arg(&db)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let first = run();
    assert!(first.contains("created workspace embedded"), "{first}");
    assert!(
        first.contains("Fim [\"src/app.py\"] -> openai-embedded / gpt-5-mini (rule Some(0))"),
        "{first}"
    );
    assert!(
        first.contains("Chat [\"README.md\"] -> openai-embedded / gpt-5 (rule Some(1))"),
        "{first}"
    );
    assert!(
        !first.contains("sk-example"),
        "the provider key is never printed"
    );
    let second = run();
    assert!(second.contains("found workspace embedded"), "{second}");
    assert!(
        second.contains("provider openai-embedded exists"),
        "{second}"
    );
    assert!(second.contains("gpt-5-mini (rule Some(0))"), "{second}");
}
