//! `systemd-analyze verify` on systemd/memlink.service, with ExecStart pointing at the binary
//! this build produced: the unit must load without errors or warnings. Needs systemd-analyze
//! (Debian package systemd, installed by scripts/test.sh); without it the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn systemd_analyze_installed() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A copy of the unit in its own directory, with ExecStart replaced.
fn unit_copy(exec_start: &str) -> (PathBuf, PathBuf) {
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/memlink.service");
    let text = std::fs::read_to_string(&original).expect("read systemd/memlink.service");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ExecStart=")).count(),
        1,
        "the unit has one ExecStart"
    );
    let patched: String = text
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("ExecStart={exec_start} run")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = std::env::temp_dir().join(format!("memlink-unit-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unit = dir.join("memlink.service");
    std::fs::write(&unit, patched + "\n").expect("write the unit copy");
    (dir, unit)
}

fn verify(unit: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .expect("run systemd-analyze");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[test]
fn the_unit_verifies_with_the_built_binary() {
    assert!(
        systemd_analyze_installed(),
        "systemd-analyze is not installed: install the Debian package systemd (scripts/test.sh does)"
    );
    let (dir, unit) = unit_copy(env!("CARGO_BIN_EXE_memlink"));
    let (ok, output) = verify(&unit);
    // Unknown keys and bad values are warnings (exit 0): none may mention our unit.
    let complaints: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("memlink.service"))
        .collect();
    // The same check must fail for a unit whose binary does not exist, or it proves nothing.
    let (bad_dir, bad_unit) = unit_copy("/nonexistent/memlink");
    let (bad_ok, bad_output) = verify(&bad_unit);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&bad_dir);
    assert!(ok, "systemd-analyze verify failed:\n{output}");
    assert!(complaints.is_empty(), "warnings about the unit:\n{output}");
    assert!(
        !bad_ok,
        "a missing binary must fail verification:\n{bad_output}"
    );
}
