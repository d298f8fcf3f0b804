//! Issue #5: `make install DESTDIR=...` writes exactly the documented tree
//! (the Makefile's install section) with the documented modes, for each init
//! system; `make uninstall` takes every file away again but keeps an edited
//! config; the man page is clean roff and documents every command and key.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// `mode path` for everything below `root` (directories end in `/`), sorted.
fn listing(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.push(format!("{mode:04o} {rel}/"));
                walk(root, &path, out);
            } else {
                out.push(format!("{mode:04o} {rel}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// `make -C repo TARGET VARS...` with umask 022 (so parent directories made
/// by `install -d` are 0755 whatever the caller's umask).
fn make(target: &str, vars: &[String]) -> std::process::Output {
    let mut script = format!(
        "umask 022 && exec make -s -C '{}' {target}",
        repo().display()
    );
    for v in vars {
        script.push_str(&format!(" '{v}'"));
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    let out = run(cmd);
    assert!(out.status.success(), "make {target} failed");
    out
}

fn common_tree() -> Vec<&'static str> {
    vec![
        "0755 etc/",
        "0644 etc/sysmon.conf",
        "0755 usr/",
        "0755 usr/local/",
        "0755 usr/local/bin/",
        "0755 usr/local/bin/sysmon",
        "0755 usr/local/share/",
        "0755 usr/local/share/man/",
        "0755 usr/local/share/man/man8/",
        "0644 usr/local/share/man/man8/sysmon.8",
        "0755 usr/local/share/sysmon/",
        "0755 usr/local/share/sysmon/alert/",
        "0755 usr/local/share/sysmon/alert/ntfy",
        "0755 usr/local/share/sysmon/alert/sendmail",
        "0755 usr/local/share/sysmon/alert/webhook",
    ]
}

fn install_and_uninstall(flavour: &str, extra: &[&'static str], enable_hint: &str) {
    let dir = TempDir::new(&format!("install-{flavour}"));
    let root = dir.join("root");
    let vars = [
        format!("DESTDIR={}", root.display()),
        format!("SYSMON_BIN={BIN}"),
        "RUNIT_SVDIR=/etc/sv".to_string(),
    ];
    let out = make(&format!("install-{flavour}"), &vars);
    let mut want: Vec<String> = common_tree()
        .into_iter()
        .chain(extra.iter().copied())
        .map(String::from)
        .collect();
    want.sort();
    assert_eq!(listing(&root), want);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(enable_hint),
        "no enable hint `{enable_hint}`"
    );
    // The binary is the one asked for, byte for byte.
    assert_eq!(
        std::fs::read(root.join("usr/local/bin/sysmon")).unwrap(),
        std::fs::read(BIN).unwrap()
    );

    make("uninstall", &vars);
    let left: Vec<String> = listing(&root)
        .into_iter()
        .filter(|l| !l.ends_with('/'))
        .collect();
    assert!(left.is_empty(), "uninstall left files: {left:?}");
}

#[test]
fn destdir_install_systemd_tree() {
    install_and_uninstall(
        "systemd",
        &[
            "0755 usr/local/lib/",
            "0755 usr/local/lib/systemd/",
            "0755 usr/local/lib/systemd/system/",
            "0644 usr/local/lib/systemd/system/sysmon.service",
            "0755 usr/local/lib/sysusers.d/",
            "0644 usr/local/lib/sysusers.d/sysmon.conf",
            "0755 usr/local/lib/tmpfiles.d/",
            "0644 usr/local/lib/tmpfiles.d/sysmon.conf",
        ],
        "systemctl enable --now sysmon",
    );
}

#[test]
fn destdir_install_openrc_tree() {
    install_and_uninstall(
        "openrc",
        &[
            "0755 etc/init.d/",
            "0755 etc/init.d/sysmon",
            "0755 etc/conf.d/",
            "0644 etc/conf.d/sysmon",
        ],
        "rc-update add sysmon default",
    );
}

#[test]
fn destdir_install_runit_tree() {
    install_and_uninstall(
        "runit",
        &[
            "0755 etc/sv/",
            "0755 etc/sv/sysmon/",
            "0755 etc/sv/sysmon/run",
            "0755 etc/sv/sysmon/log/",
            "0755 etc/sv/sysmon/log/run",
        ],
        "ln -s /etc/sv/sysmon /var/service/",
    );
}

#[test]
fn paths_follow_prefix_and_sysconfdir() {
    let dir = TempDir::new("install-prefix");
    let root = dir.join("root");
    let vars = [
        format!("DESTDIR={}", root.display()),
        format!("SYSMON_BIN={BIN}"),
        "PREFIX=/usr".to_string(),
        "SYSCONFDIR=/etc/sysmon.d".to_string(),
    ];
    make("install-systemd", &vars);
    make("install-openrc", &vars);
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/sysmon.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/sysmon run --config /etc/sysmon.d/sysmon.conf\n"),
        "{unit}"
    );
    assert!(!unit.contains("/usr/local"), "{unit}");
    let openrc = std::fs::read_to_string(root.join("etc/sysmon.d/init.d/sysmon")).unwrap();
    assert!(openrc.contains("command=\"/usr/bin/sysmon\""), "{openrc}");
    assert!(
        openrc.contains("SYSMON_CONFIG:=/etc/sysmon.d/sysmon.conf"),
        "{openrc}"
    );
    assert!(root.join("usr/share/man/man8/sysmon.8").is_file());
    assert!(root.join("usr/share/sysmon/alert/webhook").is_file());
    assert!(root.join("etc/sysmon.d/sysmon.conf").is_file());
}

#[test]
fn an_existing_or_edited_config_survives_install_and_uninstall() {
    let dir = TempDir::new("install-keep");
    let root = dir.join("root");
    let vars = [
        format!("DESTDIR={}", root.display()),
        format!("SYSMON_BIN={BIN}"),
    ];
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/sysmon.conf"), "listen = 127.0.0.1:9999\n").unwrap();
    let out = make("install-openrc", &vars);
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept the existing"));
    assert_eq!(
        std::fs::read_to_string(root.join("etc/sysmon.conf")).unwrap(),
        "listen = 127.0.0.1:9999\n"
    );
    // An edited conf.d file is kept too; everything else goes.
    let confd = root.join("etc/conf.d/sysmon");
    let mut text = std::fs::read_to_string(&confd).unwrap();
    text.push_str("SYSMON_OPTS=\"--listen 0.0.0.0:8080\"\n");
    std::fs::write(&confd, text).unwrap();
    let out = make("uninstall", &vars);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("kept")
            && said.contains("etc/sysmon.conf")
            && said.contains("etc/conf.d/sysmon"),
        "{said}"
    );
    let left: Vec<String> = listing(&root)
        .into_iter()
        .filter(|l| !l.ends_with('/'))
        .collect();
    assert_eq!(left, ["0644 etc/conf.d/sysmon", "0644 etc/sysmon.conf"]);
}

#[test]
fn install_without_an_init_system_says_so() {
    let dir = TempDir::new("install-none");
    let root = dir.join("root");
    let vars = [
        format!("DESTDIR={}", root.display()),
        format!("SYSMON_BIN={BIN}"),
        "INIT=none".to_string(),
    ];
    let out = make("install", &vars);
    assert!(String::from_utf8_lossy(&out.stdout).contains("No init system detected"));
    let files: Vec<String> = listing(&root)
        .into_iter()
        .filter(|l| !l.ends_with('/'))
        .collect();
    assert_eq!(
        files,
        [
            "0644 etc/sysmon.conf",
            "0644 usr/local/share/man/man8/sysmon.8",
            "0755 usr/local/bin/sysmon",
            "0755 usr/local/share/sysmon/alert/ntfy",
            "0755 usr/local/share/sysmon/alert/sendmail",
            "0755 usr/local/share/sysmon/alert/webhook"
        ]
    );
}

#[test]
fn man_page_is_clean_and_documents_every_command_and_key() {
    let page = std::fs::read_to_string(repo().join("init/sysmon.8")).unwrap();
    // roff escapes hyphens; compare against the page with them unescaped.
    let plain = page.replace("\\-", "-");
    let mut keys: Vec<String> = Vec::new();
    // check-config prints every key (the optional ones only when set).
    let dir = TempDir::new("man");
    let config = dir.config("update_manager = command\nupdate_command = true\nbackup_source = /etc\nbackup_exclude = *.tmp");
    let out = run(sysmon(&[
        "check-config",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(out.status.success());
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        keys.push(line.split(" = ").next().unwrap().to_string());
    }
    assert!(keys.len() >= 19, "{keys:?}");
    for key in &keys {
        assert!(
            plain.contains(&format!(".BI {key} ")),
            "the man page does not document key `{key}`"
        );
    }
    let help = run(sysmon(&["--help"]));
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.len() >= 6, "{help}");
    let synopsis = plain
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|s| s.split(".SH ").next())
        .expect("the man page has a SYNOPSIS");
    let after_synopsis = plain.split(".SH DESCRIPTION").nth(1).unwrap();
    // README's synopsis, the code block under `## Command line`.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let readme_synopsis = readme
        .split("\n## Command line\n")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("README has a Command line synopsis");
    for command in commands {
        assert!(
            plain.contains(&format!(".B {command}\n")),
            "the man page does not document command `{command}`"
        );
        // Each flag of the command's usage line is in its SYNOPSIS line and
        // described below it.
        let usage = run(sysmon(&[command, "--help"]));
        let usage = String::from_utf8_lossy(&usage.stdout).into_owned();
        let line = synopsis
            .split(".br\n")
            .find(|l| {
                l.starts_with(&format!(".B sysmon {command}\n"))
                    || l.starts_with(&format!(".B sysmon {command} "))
            })
            .unwrap_or_else(|| panic!("no SYNOPSIS line for `{command}`"));
        for flag in usage
            .lines()
            .next()
            .unwrap()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
        {
            assert!(
                line.contains(flag),
                "the man page's SYNOPSIS of `{command}` lacks {flag} (`sysmon {command} --help`: {usage})"
            );
            assert!(
                readme_synopsis
                    .lines()
                    .any(|l| { l.starts_with(&format!("sysmon {command} ")) && l.contains(flag) }),
                "README's Command line synopsis of `{command}` lacks {flag}"
            );
            assert!(
                after_synopsis.contains(&format!(".B {flag}"))
                    || after_synopsis.contains(&format!(".BI {flag} "))
                    || after_synopsis.contains(&format!(".BR {flag}")),
                "the man page does not describe {flag} of `{command}`"
            );
        }
    }
    if have_tool("groff", "checking the man page's roff") {
        let mut cmd = Command::new("groff");
        cmd.args(["-man", "-ww", "-z"])
            .arg(repo().join("init/sysmon.8"));
        let out = run(cmd);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff warnings"
        );
    }
}

/// Issue 18: `sudo make install` on Debian has no cargo or rustup on PATH
/// (sudo's secure_path). Install copies what `make` built and runs neither:
/// here both are shims that record being called, first on PATH.
#[test]
fn install_runs_no_cargo_or_rustup_and_copies_the_newest_build() {
    let built: Vec<std::path::PathBuf> = [
        "target/x86_64-unknown-linux-musl/release/sysmon",
        "target/x86_64-unknown-linux-gnu/release/sysmon",
    ]
    .iter()
    .map(|p| repo().join(p))
    .filter(|p| p.is_file())
    .collect();
    let Some(newest) = built
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
    else {
        eprintln!(
            "SKIPPED: install of the release build: none built (`make` builds it; `make test` does first)"
        );
        return;
    };
    let dir = TempDir::new("install-no-cargo");
    let shims = dir.join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let called = dir.join("called");
    for tool in ["cargo", "rustup", "rustc"] {
        let shim = shims.join(tool);
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\necho {tool} \"$@\" >> '{}'\nexit 1\n",
                called.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let root = dir.join("root");
    let mut cmd = Command::new("make");
    cmd.args(["-C"])
        .arg(repo())
        .args(["install", "INIT=none"])
        .arg(format!("DESTDIR={}", root.display()))
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                shims.display()
            ),
        );
    let out = run(cmd);
    assert!(out.status.success(), "make install failed");
    assert!(
        !called.exists(),
        "install ran {}",
        std::fs::read_to_string(&called).unwrap_or_default()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("target is not available"), "{stderr}");
    assert!(!stderr.contains("not found"), "{stderr}");
    assert_eq!(
        std::fs::read(root.join("usr/local/bin/sysmon")).unwrap(),
        std::fs::read(newest).unwrap()
    );

    // Nothing built (here: a binary that is not there) says what to run.
    let mut cmd = Command::new("make");
    cmd.args(["-C"])
        .arg(repo())
        .args(["install", "INIT=none", "SYSMON_BIN=target/none/sysmon"])
        .arg(format!("DESTDIR={}", dir.join("root2").display()))
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", shims.display()));
    let out = run(cmd);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Build it first as your user with 'make', then install with 'sudo make install'"
        ),
        "{stderr}"
    );
    assert!(!called.exists(), "install ran cargo or rustup");
    assert!(!dir.join("root2/usr/local/bin/sysmon").exists());
}

/// `make` picks the build the toolchain it finds can make, and says so:
/// rustup with the musl target (the release build); no rustup and a
/// rustc whose host is musl (Alpine's own `apk add cargo`, host
/// `x86_64-alpine-linux-musl`, which has no std for the glibc target) a
/// static build for that host; no rustup and a glibc host the static glibc
/// build. `make -n` prints the cargo command without running it; the
/// toolchain is a set of shims first on PATH (the machine's own, in
/// ~/.cargo/bin, is left off PATH).
#[test]
fn make_builds_for_the_toolchain_it_finds() {
    let dir = TempDir::new("make-toolchains");
    let cases: [(&str, Option<&str>, &str, &str); 3] = [
        (
            "rustup with musl",
            Some("x86_64-unknown-linux-musl"),
            "x86_64-unknown-linux-gnu",
            "cargo build --release --locked --target x86_64-unknown-linux-musl",
        ),
        (
            "Alpine's rustc",
            None,
            "x86_64-alpine-linux-musl",
            "RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target-dir target/host-static",
        ),
        (
            "a glibc rustc",
            None,
            "x86_64-unknown-linux-gnu",
            "RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target x86_64-unknown-linux-gnu",
        ),
    ];
    for (i, (what, rustup_has, host, command)) in cases.into_iter().enumerate() {
        let shims = dir.join(&format!("shims{i}"));
        std::fs::create_dir_all(&shims).unwrap();
        let mut tools = vec![(
            "rustc",
            format!("#!/bin/sh\nprintf 'rustc 1.95.0\\nhost: {host}\\n'\n"),
        )];
        if let Some(target) = rustup_has {
            tools.push(("rustup", format!("#!/bin/sh\necho {target}\n")));
        }
        for (tool, script) in tools {
            let shim = shims.join(tool);
            std::fs::write(&shim, script).unwrap();
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut cmd = Command::new("make");
        cmd.args(["-n", "-C"])
            .arg(repo())
            .arg("build")
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", shims.display()));
        let out = run(cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.lines().any(|l| l.trim() == command),
            "{what}: no `{command}` in:\n{stdout}"
        );
    }
}
