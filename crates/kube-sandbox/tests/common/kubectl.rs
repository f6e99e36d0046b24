//! Debian's kubectl (package `kubernetes-client`), installed on demand.
//!
//! This machine's /usr/bin/kubectl belongs to another package (the Google Cloud SDK's), and
//! Debian's package installs the same path, so dpkg would refuse it as a file conflict. In that
//! case the package is fetched with `apt-get download` and unpacked next to the test target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn run(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    cmd.output()
}

fn ok(cmd: &mut Command) -> bool {
    run(cmd).map(|o| o.status.success()).unwrap_or(false)
}

fn owner_of(path: &str) -> Option<String> {
    let out = run(Command::new("dpkg").args(["-S", path])).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(':').next().map(|s| s.trim().to_string())
}

fn debian_installed() -> bool {
    ok(Command::new("dpkg").args(["-s", "kubernetes-client"]))
        && owner_of("/usr/bin/kubectl").as_deref() == Some("kubernetes-client")
}

fn apt(args: &[&str], dir: Option<&Path>) -> bool {
    let attempt = |c: &mut Command| ok(c.args(args).env("DEBIAN_FRONTEND", "noninteractive"));
    let mut cmd = Command::new("apt-get");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    if attempt(&mut cmd) {
        return true;
    }
    // Package lists may be stale or missing.
    ok(Command::new("apt-get").arg("update"));
    let mut cmd = Command::new("apt-get");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    attempt(&mut cmd)
}

fn unpack_beside(dir: &Path) -> PathBuf {
    let binary = dir.join("root/usr/bin/kubectl");
    if binary.exists() {
        return binary;
    }
    std::fs::create_dir_all(dir).unwrap();
    assert!(
        apt(&["download", "kubernetes-client"], Some(dir)),
        "apt-get download kubernetes-client failed"
    );
    let deb = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("kubernetes-client_")
                && p.extension().is_some_and(|e| e == "deb")
        })
        .expect("downloaded .deb");
    let root = dir.join("root");
    assert!(
        ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root)),
        "dpkg-deb -x failed"
    );
    assert!(binary.exists());
    binary
}

/// The path of Debian's kubectl, installing or unpacking it first if needed.
pub fn debian_kubectl() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if debian_installed() {
            return PathBuf::from("/usr/bin/kubectl");
        }
        let other_owner = owner_of("/usr/bin/kubectl").filter(|o| o != "kubernetes-client");
        if other_owner.is_none()
            && apt(&["install", "-y", "kubernetes-client"], None)
            && debian_installed()
        {
            return PathBuf::from("/usr/bin/kubectl");
        }
        unpack_beside(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("debian-kubectl"))
    })
}
