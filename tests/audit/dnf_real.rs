//! The dnf audit against a real dnf 4 (not a shim): tiny RPMs built with
//! rpmbuild, an installroot holding the old versions, a file:// repository
//! with the new ones and an updateinfo.xml marking one a security advisory
//! (tests/fixtures/audit/dnf-real/setup.sh). `sysmon audit` must list what
//! `dnf check-update` lists, with the installed versions rpm reports and
//! the security flag exactly on the packages `dnf updateinfo list
//! --security` names, all three run by hand here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{TempDir, fixture, have_tool, run, sysmon};

fn tools_present() -> bool {
    ["dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c"]
        .iter()
        .all(|t| have_tool(t, "real dnf audit test"))
}

/// `bin/dnf` or `bin/rpm` of the test world: the wrappers sysmon finds on PATH.
fn world(t: &Path, tool: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(t.join("bin").join(tool));
    cmd.args(args).env("LC_ALL", "C");
    run(cmd)
}

fn audit(t: &Path, dir: &TempDir) -> Output {
    let config = dir.config("update_manager = dnf");
    let mut cmd = sysmon(&["audit", "--config", config.to_str().unwrap()]);
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", t.join("bin").display());
    cmd.env("PATH", path);
    run(cmd)
}

/// `name.arch  evr  repo` lines of `dnf -q check-update`, read here with
/// nothing but whitespace splitting (piped, dnf never wraps).
fn check_update(t: &Path) -> (Option<i32>, BTreeSet<(String, String)>) {
    let out = world(t, "dnf", &["-q", "check-update"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let listed = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "unexpected check-update line {l:?}");
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    (out.status.code(), listed)
}

/// `name.arch` of each package `dnf -q updateinfo list --security` names
/// (`ID Severity/Sec. name-version-release.arch`).
fn security_by_hand(t: &Path) -> BTreeSet<String> {
    let out = world(
        t,
        "dnf",
        &["-q", "updateinfo", "list", "--security", "--available"],
    );
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f[1].ends_with("/Sec."), "{l:?}");
            let (nvr, arch) = f[2].rsplit_once('.').unwrap();
            let (nv, _release) = nvr.rsplit_once('-').unwrap();
            let (name, _version) = nv.rsplit_once('-').unwrap();
            format!("{name}.{arch}")
        })
        .collect()
}

/// The installed `[epoch:]version-release` of `name.arch` as dnf spells
/// versions: the epoch only when it is not 0.
fn installed(t: &Path, name_arch: &str) -> String {
    let (name, _) = name_arch.rsplit_once('.').unwrap();
    let out = world(
        t,
        "rpm",
        &["-q", "--qf", "%{EPOCHNUM}:%{VERSION}-%{RELEASE}", name],
    );
    assert!(out.status.success());
    let evr = String::from_utf8(out.stdout).unwrap();
    evr.strip_prefix("0:").unwrap_or(&evr).to_string()
}

/// `name current -> new [security]` lines of `sysmon audit`.
fn sysmon_lines(out: &Output) -> BTreeSet<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn sysmon_matches_real_dnf_check_update_and_security_advisories() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("audit-dnf-real");
    let t = dir.join("world");
    let setup = run({
        let mut c = Command::new("sh");
        c.arg(fixture("audit/dnf-real/setup.sh")).arg(&t);
        c
    });
    assert!(setup.status.success(), "setup failed");

    let (code, listed) = check_update(&t);
    assert_eq!(code, Some(100), "dnf check-update should see updates");
    let security = security_by_hand(&t);
    let expected: BTreeSet<String> = listed
        .iter()
        .map(|(name, new)| {
            let tag = if security.contains(name) {
                " [security]"
            } else {
                ""
            };
            format!("{name} {} -> {new}{tag}", installed(&t, name))
        })
        .collect();

    let out = audit(&t, &dir);
    assert_eq!(out.status.code(), Some(100));
    assert_eq!(sysmon_lines(&out), expected);

    // What this world holds, so the comparison above cannot pass empty:
    // four updates, an epoch kept on both sides, the unchanged bar absent,
    // one security advisory (the bugfix one for hello flags nothing).
    assert_eq!(
        expected,
        BTreeSet::from(
            [
                "a-package-with-a-name-far-longer-than-its-column.noarch 1.0-1 -> 1.1-1",
                "epochpkg.noarch 2:3.0-1 -> 2:3.1-1",
                "hello.noarch 1.0-1 -> 1.1-1",
                "libfoo.noarch 2.0-1 -> 2.1-1 [security]",
            ]
            .map(String::from)
        )
    );

    // After a real upgrade both agree that nothing is pending.
    assert!(world(&t, "dnf", &["-q", "-y", "upgrade"]).status.success());
    let (code, listed) = check_update(&t);
    assert_eq!((code, listed.len()), (Some(0), 0));
    assert!(security_by_hand(&t).is_empty());
    let out = audit(&t, &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(sysmon_lines(&out).is_empty());
}

/// A loopback port nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Adds a repository `id` at `baseurl` to the world's dnf.conf, which dnf
/// skips when it cannot read it (`skip_if_unavailable=True`, the default
/// of Fedora's and EL's dnf.conf).
fn add_repository_skipped_if_unavailable(t: &Path, id: &str, baseurl: &str) {
    let conf = t.join("dnf.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("skip_if_unavailable=False", "skip_if_unavailable=True");
    let text = format!("{text}[{id}]\nname={id}\nbaseurl={baseurl}\n");
    std::fs::write(&conf, text).unwrap();
}

/// Real dnf 4.14, one repository unreadable and `skip_if_unavailable=True`:
/// `dnf -q check-update` exits 0 (nothing pending) or 100 with the other
/// repositories' updates, and with `-q` says nothing at all on stderr. The
/// audit said "0 updates pending", fresh: the false all-clear. Now dnf is
/// asked for its warnings (`--setopt=errorlevel=3`) and the answer is
/// `stale`, naming the repository; `sysmon audit` exits 3 with nothing
/// pending, 100 with updates (regression: update-audit review, 2026-12-04).
#[test]
fn a_repository_dnf_could_not_read_makes_the_answer_stale() {
    if !tools_present() {
        return;
    }
    let dir = TempDir::new("audit-dnf-real-unreadable");
    let t = dir.join("world");
    let setup = run({
        let mut c = Command::new("sh");
        c.arg(fixture("audit/dnf-real/setup.sh")).arg(&t);
        c
    });
    assert!(setup.status.success(), "setup failed");

    // Updates pending, one repository behind a closed loopback port.
    add_repository_skipped_if_unavailable(
        &t,
        "unreachable",
        &format!("http://127.0.0.1:{}/repo", closed_port()),
    );
    let (code, listed) = check_update(&t);
    assert_eq!((code, listed.len()), (Some(100), 4), "real dnf skips it");
    let out = audit_json(&t, &dir);
    assert_eq!(out.status.code(), Some(100));
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains(r#""state":"stale""#), "{json}");
    assert!(
        json.contains("Failed to download metadata for repo 'unreachable'"),
        "{json}"
    );

    // Nothing pending and a file:// repository that is not there: not
    // "0 updates", but unknown.
    assert!(world(&t, "dnf", &["-q", "-y", "upgrade"]).status.success());
    add_repository_skipped_if_unavailable(
        &t,
        "missing",
        &format!("file://{}/no-such-directory", t.display()),
    );
    let (code, listed) = check_update(&t);
    assert_eq!((code, listed.len()), (Some(0), 0), "real dnf skips both");
    let out = audit(&t, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("Ignoring repositories: unreachable, missing"),
        "{stderr}"
    );
}

fn audit_json(t: &Path, dir: &TempDir) -> Output {
    let config = dir.config("update_manager = dnf");
    let mut cmd = sysmon(&["audit", "--json", "--config", config.to_str().unwrap()]);
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", t.join("bin").display());
    cmd.env("PATH", path);
    run(cmd)
}
