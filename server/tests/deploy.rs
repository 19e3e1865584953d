//! The production files in deploy/: the systemd unit passes `systemd-analyze verify` (Debian's
//! systemd package, installed by scripts/setup.sh) and keeps its sandbox, and every setting
//! the environment example names is one the server reads.

use std::path::Path;
use std::process::Command;

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_systemd_unit_verifies_and_is_sandboxed() {
    let unit = deploy_file("insectid.service");
    for option in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/insectid",
        "CapabilityBoundingSet=\n",
        "EnvironmentFile=/etc/insectid/insectid.env",
    ] {
        assert!(unit.contains(option), "the unit lacks {option:?}");
    }
    // verify needs the programs it names to exist: the unit as installed, with the binary built here.
    let dir = std::env::temp_dir().join(format!("insectid-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let here = unit.replace("/opt/insectid/bin/insectid", env!("CARGO_BIN_EXE_insectid"));
    std::fs::write(dir.join("insectid.service"), here).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.join("insectid.service"))
        .output()
        .expect("systemd-analyze (Debian's systemd package; scripts/setup.sh installs it)");
    let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).ok();
    // Lines about the host (no systemd running in a container, units it cannot find) are not
    // about this unit; anything naming it is.
    let about_unit: Vec<&str> = said.lines().filter(|l| l.contains("insectid.service")).collect();
    assert!(out.status.success() && about_unit.is_empty(), "systemd-analyze verify:\n{said}");
}

#[test]
fn the_environment_example_names_only_real_settings() {
    let example = deploy_file("insectid.env.example");
    let help = Command::new(env!("CARGO_BIN_EXE_insectid")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let names: Vec<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|name| name.starts_with("INSECTID_"))
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(help.contains(&format!("[env: {name}")), "{name} is not a setting of the server");
    }
}
