//! The test environment's own recipes run as root under `cargo xtask test`: what they execute and the keys
//! they trust must not come from a place someone else can write.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use offinfra_test_support::env::recipes;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_control_plane_recipe_runs_no_binary_others_can_replace() {
    let cache = tempfile::tempdir().unwrap();
    for name in ["kube-apiserver", "kube-controller-manager"] {
        let path = cache.path().join(name);
        std::fs::write(&path, "#!/bin/sh\necho planted\n").unwrap();
        // Writable by anyone: whoever can write it runs as the recipe's user (root under xtask).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out =
        Command::new("sh").arg(recipes().join("k8s-up.sh")).env("OFFINFRA_K8S_CACHE", cache.path()).output().unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not safe to run"), "{stderr}");
    assert!(!stderr.contains("planted") && !text(&out.stdout).contains("planted"), "the planted binary ran: {stderr}");
}

#[test]
fn the_registry_recipe_refuses_a_state_dir_others_can_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new("sh")
        .arg(recipes().join("registry-up.sh"))
        .arg("1")
        .env("LOCAL_REGISTRY_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is writable by others"), "{}", text(&out.stderr));
    // Stopping needs the directory named: no predictable default path is guessed.
    let out = Command::new("sh")
        .arg(recipes().join("registry-down.sh"))
        .arg("5000")
        .env_remove("LOCAL_REGISTRY_DIR")
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out.stderr).contains("LOCAL_REGISTRY_DIR"), "{}", text(&out.stderr));
}
