//! This machine's real apt against a world of its own: a file:// repository
//! (a hand-written `Packages` and `Release`: a simulation never downloads,
//! so no .deb is needed) and a dpkg status file, wired by `APT_CONFIG`
//! (wrappers first on PATH, so the audit's plain `apt-get` gets them; the
//! host's apt state is never touched).
//!
//! The world has, installed at 1.0 with 2.0 in the repository:
//! `phasedzero` (`Phased-Update-Percentage: 0`: never phased in for this
//! machine), `phasedfull` (at 100: an ordinary update), `plain`, `heldpkg`
//! (held) and `libfoo` for amd64 and i386 (`Multi-Arch: same`, the i386
//! one held: apt's multiarch, with i386 as a foreign architecture).
//!
//! How apt 2.6 decides phasing (apt-pkg/upgrade.cc `PhasedUpgrader`, read
//! in Debian/apt at tag 2.6.1): never for security updates, nor when
//! `APT::Get::Always-Include-Phased-Updates` is set, nor without a machine
//! id (`APT::Machine-ID`, else `/etc/machine-id`), nor with
//! `SOURCE_DATE_EPOCH` set, nor in a chroot (`ischroot -t`, the program
//! named by `Dir::Bin::ischroot`); otherwise a version is deferred when a
//! draw seeded by source, version and machine id exceeds its percentage.
//! Each is pinned here: a fixed machine id, `/bin/false` for ischroot (not
//! a chroot), no SOURCE_DATE_EPOCH. apt 2.6 prints the deferred update
//! among the kept back (the heading "deferred due to phasing" came with
//! apt 2.7.11), and, its policy ignoring phasing unless
//! `APT::Get::Phase-Policy` is set, `apt list --upgradable` lists it.
//!
//! What must hold, against apt run by hand in the same world: sysmon's
//! pending list is what `apt-get -s upgrade` installs; the phased ones are
//! exactly those it installs only with phasing off; the held ones are what
//! `apt-mark showhold` prints, `libfoo:i386` included; and everything `apt
//! list --upgradable` lists is pending, phased or kept back, counted by
//! origin and architecture for `apt_upgrades_pending`/`apt_upgrades_held`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{TempDir, have_tool, run};
use sysmon::audit::{AuditEnv, AuditService};
use sysmon::config::UpdateManager;

const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";
/// The community textfile script, fetched by .ci/deps (see apt_details.rs).
const APT_INFO: &str = "/var/cache/sysmon-test/apt-info/apt_info.py";

/// name, version, architecture, extra fields: the repository's packages.
const REPOSITORY: [(&str, &str, &str, &str); 6] = [
    (
        "phasedzero",
        "2.0",
        "amd64",
        "Phased-Update-Percentage: 0\n",
    ),
    (
        "phasedfull",
        "2.0",
        "amd64",
        "Phased-Update-Percentage: 100\n",
    ),
    ("plain", "2.0", "amd64", ""),
    ("heldpkg", "2.0", "amd64", ""),
    ("libfoo", "2.0", "amd64", "Multi-Arch: same\n"),
    ("libfoo", "2.0", "i386", "Multi-Arch: same\n"),
];

/// name, dpkg selection, architecture, extra fields: what is installed.
/// dpkg's own stanza names the native architecture.
const INSTALLED: [(&str, &str, &str, &str); 7] = [
    ("dpkg", "install", "amd64", ""),
    ("phasedzero", "install", "amd64", ""),
    ("phasedfull", "install", "amd64", ""),
    ("plain", "install", "amd64", ""),
    ("heldpkg", "hold", "amd64", ""),
    ("libfoo", "install", "amd64", "Multi-Arch: same\n"),
    ("libfoo", "hold", "i386", "Multi-Arch: same\n"),
];

struct World {
    t: PathBuf,
}

impl World {
    fn new(t: &Path) -> World {
        let root = t.join("root");
        for dir in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/dpkg",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/log/apt",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let repo = t.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(t.join("bin")).unwrap();

        let mut packages = String::new();
        for (name, version, arch, extra) in REPOSITORY {
            packages.push_str(&format!(
                "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
                 Maintainer: sysmon tests <root@localhost>\n\
                 Filename: ./{name}_{version}_{arch}.deb\nSize: 1000\n{extra}\
                 Description: a package of the apt sandbox test\n\n"
            ));
        }
        std::fs::write(repo.join("Packages"), &packages).unwrap();
        let sha = run({
            let mut c = Command::new("sha256sum");
            c.arg(repo.join("Packages"));
            c
        });
        let sha = String::from_utf8(sha.stdout).unwrap();
        std::fs::write(
            repo.join("Release"),
            format!(
                "Origin: Sysmon\nLabel: SysmonTest\nSuite: testing\nCodename: sid\n\
                 Version: 1.0\nDate: Wed, 02 Dec 2026 00:00:00 UTC\n\
                 Architectures: amd64 i386\nSHA256:\n {} {} Packages\n",
                sha.split_whitespace().next().unwrap(),
                packages.len()
            ),
        )
        .unwrap();

        let mut status = String::new();
        for (name, selection, arch, extra) in INSTALLED {
            status.push_str(&format!(
                "Package: {name}\nStatus: {selection} ok installed\nPriority: optional\n\
                 Version: 1.0\nArchitecture: {arch}\n{extra}\
                 Maintainer: sysmon tests <root@localhost>\nDescription: installed\n\n"
            ));
        }
        std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
        std::fs::write(
            root.join("etc/apt/sources.list"),
            format!("deb [trusted=yes] file:{} ./\n", repo.display()),
        )
        .unwrap();
        let world = World { t: t.to_path_buf() };
        world.configure("");
        // The wrappers: apt's own binaries, in this world.
        for tool in ["apt-get", "apt-mark", "apt"] {
            let wrapper = t.join("bin").join(tool);
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nAPT_CONFIG={} exec env -u SOURCE_DATE_EPOCH /usr/bin/{tool} \"$@\"\n",
                    t.join("apt.conf").display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(
                &wrapper,
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
        }
        world
    }

    /// apt.conf for this world, plus `extra` (an admin's setting).
    fn configure(&self, extra: &str) {
        let root = self.t.join("root");
        std::fs::write(
            self.t.join("apt.conf"),
            format!(
                "Dir \"{root}/\";\n\
                 Dir::State::status \"{root}/var/lib/dpkg/status\";\n\
                 Dir::Etc::main \"{conf}\";\n\
                 APT::Architecture \"amd64\";\n\
                 APT::Architectures {{ \"amd64\"; \"i386\"; }};\n\
                 APT::Machine-ID \"{MACHINE_ID}\";\n\
                 Dir::Bin::ischroot \"/bin/false\";\n\
                 APT::Sandbox::User \"root\";\n\
                 Acquire::Languages \"none\";\n{extra}",
                root = root.display(),
                conf = self.t.join("apt.conf").display(),
            ),
        )
        .unwrap();
    }

    /// `bin/TOOL ARGS` in this world, which must succeed; its stdout.
    fn ok(&self, tool: &str, args: &[&str]) -> String {
        let mut cmd = Command::new(self.t.join("bin").join(tool));
        cmd.args(args).env("LC_ALL", "C");
        let out = run(cmd);
        assert!(out.status.success(), "{tool} {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The names `apt-get -s ARGS upgrade` installs (`Inst` lines).
    fn installs(&self, args: &[&str]) -> BTreeSet<String> {
        let mut all = vec!["-s"];
        all.extend_from_slice(args);
        all.push("upgrade");
        self.ok("apt-get", &all)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }

    /// `apt list --upgradable`: (name[:arch] as apt names it, arch).
    fn upgradable(&self) -> BTreeSet<(String, String)> {
        self.ok("apt", &["list", "--upgradable"])
            .lines()
            .filter(|l| l.contains("[upgradable from: "))
            .map(|l| {
                let (name, rest) = l.split_once('/').unwrap();
                let arch = rest.split(' ').nth(2).unwrap();
                let name = if arch == "amd64" || arch == "all" {
                    name.to_string()
                } else {
                    format!("{name}:{arch}")
                };
                (name, arch.to_string())
            })
            .collect()
    }

    /// `apt_upgrades_pending` and `apt_upgrades_held` as `apt_info.py`
    /// prints them in this world (python-apt reads `APT_CONFIG` too):
    /// (series, origin, arch, count), in its order; `None` when it cannot run.
    fn apt_info(&self) -> Option<Vec<(String, String, String, u64)>> {
        if !Path::new(APT_INFO).exists() {
            return None;
        }
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(APT_INFO)
            .env("APT_CONFIG", self.t.join("apt.conf"))
            .env("LC_ALL", "C");
        let out = run(cmd);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        let series = text
            .lines()
            .filter(|l| l.starts_with("apt_upgrades_"))
            .map(|l| {
                // name{origin="O",arch="A"} N
                let (name, rest) = l.split_once("{origin=\"").unwrap();
                let (origin, rest) = rest.split_once("\",arch=\"").unwrap();
                let (arch, count) = rest.split_once("\"} ").unwrap();
                let count = count.parse().unwrap();
                (
                    name.to_string(),
                    origin.to_string(),
                    arch.to_string(),
                    count,
                )
            })
            .collect();
        Some(series)
    }

    /// sysmon's audit of this world: the library's service with the
    /// wrappers first on PATH and the world's root for the files it reads.
    fn audit(&self, dir: &TempDir) -> sysmon::audit::model::Parsed {
        let config = crate::support::config(dir.path(), UpdateManager::Apt);
        let env = AuditEnv {
            root: self.t.join("root"),
            path: format!("{}:/usr/bin:/bin", self.t.join("bin").display()).into(),
            retry_delays: Vec::new(),
            poll_period: Duration::from_millis(10),
        };
        let mut service = AuditService::with_env(&config, env);
        crate::support::drive(&mut service, Duration::from_secs(120));
        let status = crate::support::status(&service);
        assert_eq!(status.state, "ok", "{status:?}");
        let result = service.last_result().unwrap();
        result.outcome.as_ref().unwrap().clone()
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn phased_updates_and_foreign_holds_as_real_apt_says() {
    if !have_tool("apt-get", "apt sandbox test") || !have_tool("sha256sum", "apt sandbox test") {
        return;
    }
    let dir = TempDir::new("audit-apt-sandbox");
    let world = World::new(&dir.join("world"));
    world.ok("apt-get", &["-q", "update"]);

    // apt, by hand.
    let upgradable = world.upgradable();
    let installs = world.installs(&[]);
    let unphased = world.installs(&["-o", "APT::Get::Always-Include-Phased-Updates=1"]);
    let phased: BTreeSet<String> = unphased.difference(&installs).cloned().collect();
    let held: Vec<String> = world
        .ok("apt-mark", &["showhold"])
        .lines()
        .map(String::from)
        .collect();
    // The world is what it claims to be, so nothing below can pass empty.
    assert_eq!(installs, set(&["phasedfull", "plain"]));
    assert_eq!(phased, set(&["phasedzero"]));
    assert_eq!(held, ["heldpkg", "libfoo:i386"]);
    assert_eq!(upgradable.len(), 6, "{upgradable:?}");

    let parsed = world.audit(&dir);
    let pending: BTreeSet<String> = parsed.packages.iter().map(|p| p.name.clone()).collect();
    assert_eq!(pending, installs, "pending is what apt upgrades");
    assert!(
        parsed
            .packages
            .iter()
            .all(|p| p.current == "1.0" && p.new == "2.0")
    );
    // The names are in the log's notes (the published result keeps counts).
    let note = |what: &str| -> BTreeSet<String> {
        let prefix = format!("{what}: ");
        parsed
            .notes
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .flat_map(|names| names.split(' ').map(String::from))
            .collect()
    };
    assert_eq!(note("phased (deferred)"), phased, "{:?}", parsed.notes);
    assert_eq!(
        note("held"),
        held.iter().cloned().collect(),
        "held, named as apt-mark names them"
    );
    let kept: BTreeSet<String> = upgradable
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !installs.contains(n) && !phased.contains(n))
        .collect();
    assert_eq!(
        note("kept back"),
        kept,
        "the rest is kept back (libfoo follows its held i386 half)"
    );
    let apt = parsed.apt.as_deref().expect("apt details");
    // apt_info's series: every upgradable package by origin and arch, and
    // the held ones by their own architecture.
    let origin = "Sysmon:sid/testing".to_string();
    let by_arch = |names: &mut dyn Iterator<Item = &(String, String)>| {
        let mut counts: Vec<((String, String), u64)> = Vec::new();
        for (_, arch) in names {
            match counts.iter_mut().find(|((_, a), _)| a == arch) {
                Some((_, n)) => *n += 1,
                None => counts.push(((origin.clone(), arch.clone()), 1)),
            }
        }
        counts.sort();
        counts
    };
    assert_eq!(apt.upgradable_by_origin, by_arch(&mut upgradable.iter()));
    assert_eq!(
        apt.held_by_origin,
        by_arch(&mut upgradable.iter().filter(|(n, _)| held.contains(n)))
    );

    // apt_info.py itself, in this world, when it can run here.
    match world.apt_info() {
        None => eprintln!(
            "SKIPPED: apt_info.py comparison: {APT_INFO} missing or python3-apt not importable (.ci/deps installs both as root)"
        ),
        Some(theirs) => {
            let ours: Vec<(String, String, String, u64)> = [
                ("apt_upgrades_pending", &apt.upgradable_by_origin),
                ("apt_upgrades_held", &apt.held_by_origin),
            ]
            .into_iter()
            .flat_map(|(name, counts)| {
                counts
                    .iter()
                    .map(move |((o, a), n)| (name.to_string(), o.clone(), a.clone(), *n))
            })
            .collect();
            assert_eq!(ours, theirs, "ours, then apt_info.py's");
        }
    }

    // An admin who turns phasing off: the same update is pending, as apt says.
    world.configure("APT::Get::Always-Include-Phased-Updates \"true\";\n");
    let installs = world.installs(&[]);
    assert_eq!(installs, set(&["phasedfull", "phasedzero", "plain"]));
    let parsed = world.audit(&dir);
    let pending: BTreeSet<String> = parsed.packages.iter().map(|p| p.name.clone()).collect();
    assert_eq!(pending, installs);
    assert!(
        !parsed.notes.iter().any(|n| n.starts_with("phased")),
        "{:?}",
        parsed.notes
    );
}

/// With `update_refresh = on` sysmon runs `apt-get -q update` itself. This
/// machine's apt 2.6, one source behind a closed loopback port: it exits 0
/// with `W: Failed to fetch http://127.0.0.1:PORT/... Could not connect
/// ... Connection refused` and `W: Some index files failed to download`
/// (a missing file:// source: the same as `E:` lines, exit 100). The
/// answer from the other sources stands, `stale` with apt's line quoted,
/// never a fresh `ok` (update-audit review, 2026-12-04: already so, this
/// pins it against the real apt).
#[test]
fn a_source_apt_get_update_could_not_fetch_makes_the_answer_stale() {
    if !have_tool("apt-get", "apt sandbox test") || !have_tool("sha256sum", "apt sandbox test") {
        return;
    }
    let dir = TempDir::new("audit-apt-sandbox-unfetched");
    let world = World::new(&dir.join("world"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sources = world.t.join("root/etc/apt/sources.list");
    let mut text = std::fs::read_to_string(&sources).unwrap();
    text.push_str(&format!(
        "deb [trusted=yes] http://127.0.0.1:{port}/debian sid main\n"
    ));
    std::fs::write(&sources, text).unwrap();

    let mut config = crate::support::config(dir.path(), UpdateManager::Apt);
    config.updates.refresh = true;
    let env = AuditEnv {
        root: world.t.join("root"),
        path: format!("{}:/usr/bin:/bin", world.t.join("bin").display()).into(),
        retry_delays: Vec::new(),
        poll_period: Duration::from_millis(10),
    };
    let mut service = AuditService::with_env(&config, env);
    crate::support::drive(&mut service, Duration::from_secs(120));
    let status = crate::support::status(&service);
    assert_eq!(status.state, "stale", "{status:?}");
    let why = status.error.clone().unwrap_or_default();
    assert!(
        why.contains(&format!(
            "W: Failed to fetch http://127.0.0.1:{port}/debian/dists/sid/InRelease"
        )),
        "{why}"
    );
    // The file:// source answered: its updates are listed.
    assert!(status.count.unwrap_or(0) > 0, "{status:?}");
}
