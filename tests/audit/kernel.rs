//! The kernel half of "reboot required": the running release
//! (`<proc_root>/sys/kernel/osrelease`) against the newest installed one,
//! on module trees laid out as each distribution lays them out: newer
//! installed, the same, none. Also the Debian flag's packages in the
//! reason, and the reason in /data.json's `updates` and the audit log.

use std::path::Path;

use crate::common::TempDir;
use crate::support::{Shims, drive, env, status};
use sysmon::audit::AuditService;
use sysmon::audit::host::reboot;
use sysmon::audit::managers::Manager;
use sysmon::config::UpdateManager;

/// Where each layout keeps a kernel of release `r`.
const LAYOUTS: [(&str, &[&str]); 5] = [
    // Debian, Ubuntu: modules tree plus an image in /boot.
    (
        "debian",
        &["lib/modules/{r}/modules.dep", "boot/vmlinuz-{r}"],
    ),
    // Arch: the image inside the modules tree, nothing kept in /boot by pacman.
    ("arch", &["usr/lib/modules/{r}/vmlinuz"]),
    // Fedora: both, the tree under /usr.
    (
        "fedora",
        &["usr/lib/modules/{r}/vmlinuz", "boot/vmlinuz-{r}"],
    ),
    // Alpine, Void: a tree with kernel/ under /lib.
    ("alpine", &["lib/modules/{r}/kernel/.keep"]),
    // Only an image in /boot (a kernel without modules).
    ("boot-only", &["boot/vmlinuz-{r}"]),
];

fn install(root: &Path, files: &[&str], release: &str) {
    for f in files {
        let path = root.join(f.replace("{r}", release));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
}

fn running(proc_root: &Path, release: &str) {
    std::fs::create_dir_all(proc_root.join("sys/kernel")).unwrap();
    std::fs::write(
        proc_root.join("sys/kernel/osrelease"),
        format!("{release}\n"),
    )
    .unwrap();
}

#[test]
fn kernel_newer_same_none_on_each_layout() {
    let flavoured = |layout: &str, v: &str| match layout {
        "debian" => format!("6.1.0-{v}-amd64"),
        "alpine" => format!("6.6.{v}-0-lts"),
        "fedora" => format!("6.9.{v}-200.fc40.x86_64"),
        _ => format!("6.7.{v}-arch1-1"),
    };
    for (layout, files) in LAYOUTS {
        for manager in [Manager::Pacman, Manager::Dnf, Manager::Apt] {
            let dir = TempDir::new("kernel");
            let (root, proc_root) = (dir.join("root"), dir.join("proc"));
            std::fs::create_dir_all(&root).unwrap();
            // 9 runs; 18 is newer only when compared as numbers.
            let (old, new) = (flavoured(layout, "9"), flavoured(layout, "18"));
            running(&proc_root, &old);
            let case = format!("{layout} via {manager:?}");

            // None installed (a container): unknown, except apt, which
            // would have written its flag.
            let r = reboot(&manager, &root, &proc_root);
            let unknown = if manager == Manager::Apt {
                Some(false)
            } else {
                None
            };
            assert_eq!(
                (r.required, r.kernel.as_deref()),
                (unknown, None),
                "none: {case}"
            );

            // The same one installed.
            install(&root, files, &old);
            let r = reboot(&manager, &root, &proc_root);
            assert_eq!((r.required, r.kernel), (Some(false), None), "same: {case}");

            // A newer one installed beside it.
            install(&root, files, &new);
            let r = reboot(&manager, &root, &proc_root);
            assert_eq!(r.required, Some(true), "newer: {case}");
            assert_eq!(
                r.reason().as_deref(),
                Some(format!("kernel {old} running, {new} installed").as_str()),
                "{case}"
            );

            // Rebooted into it: nothing to do, the old one still installed.
            running(&proc_root, &new);
            let r = reboot(&manager, &root, &proc_root);
            assert_eq!(r.required, Some(false), "rebooted: {case}");
        }
    }
}

#[test]
fn another_flavour_or_leftovers_are_not_an_update() {
    let dir = TempDir::new("kernel-flavour");
    let (root, proc_root) = (dir.join("root"), dir.join("proc"));
    running(&proc_root, "6.1.0-18-amd64");
    install(&root, &["lib/modules/{r}/modules.dep"], "6.1.0-18-amd64");
    // The rt flavour, newer: not what runs. A leftover of dkms modules of a
    // removed kernel, and Arch's extramodules: not kernels.
    install(&root, &["lib/modules/{r}/modules.dep"], "6.1.0-21-rt-amd64");
    install(
        &root,
        &["lib/modules/{r}/updates/dkms/x.ko"],
        "6.1.0-25-amd64",
    );
    install(
        &root,
        &["usr/lib/modules/{r}/version"],
        "extramodules-6.1-amd64",
    );
    let r = reboot(&Manager::Pacman, &root, &proc_root);
    assert_eq!((r.required, r.kernel), (Some(false), None));
}

#[test]
fn debian_flag_and_kernel_reason_reach_the_json_and_the_log() {
    let dir = TempDir::new("kernel-json");
    let shims = Shims::new(dir.path());
    shims.tool("apt-get", "apt/none");
    let env = env(dir.path(), &shims);
    let proc_root = dir.join("proc");
    running(&proc_root, "6.1.0-18-amd64");
    for r in ["6.1.0-18-amd64", "6.1.0-21-amd64"] {
        install(
            &env.root,
            &["lib/modules/{r}/modules.dep", "boot/vmlinuz-{r}"],
            r,
        );
    }
    std::fs::create_dir_all(env.root.join("run")).unwrap();
    std::fs::write(
        env.root.join("run/reboot-required"),
        "*** System restart required ***\n",
    )
    .unwrap();
    // dpkg appends one line per trigger: repeats are shown once.
    std::fs::write(
        env.root.join("run/reboot-required.pkgs"),
        "linux-image-6.1.0-21-amd64\nlibc6\nlinux-image-6.1.0-21-amd64\n",
    )
    .unwrap();
    let config = crate::support::config(dir.path(), UpdateManager::Apt);
    let mut s = AuditService::with_env(&config, env);
    drive(&mut s, std::time::Duration::from_secs(20));
    let st = status(&s);
    assert_eq!(st.reboot_required, Some(true));
    assert_eq!(
        st.reboot_reason.as_deref(),
        Some(
            "kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64 installed; \
             requested by linux-image-6.1.0-21-amd64, libc6"
        )
    );
    let log = std::fs::read_to_string(s.last_result().unwrap().log_file.as_ref().unwrap()).unwrap();
    assert!(
        log.contains(
            "reboot required: yes\n  reboot: kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64 installed\n"
        ),
        "{log}"
    );
}

/// The sweep: `/run/reboot-required.pkgs` was read whole and de-duplicated
/// by a search per name when the audit finished, on the loop (60,000 names:
/// 8 s), and every name went into `reboot_reason`. Now 64 KiB are read, a
/// sort counts them, 16 are named and the rest counted.
#[test]
fn a_huge_reboot_packages_file_is_read_bounded_and_named_briefly() {
    use std::time::{Duration, Instant};
    let dir = TempDir::new("kernel-pkgs");
    let shims = Shims::new(dir.path());
    shims.tool("apt-get", "apt/none");
    let env = env(dir.path(), &shims);
    std::fs::create_dir_all(env.root.join("run")).unwrap();
    std::fs::write(env.root.join("run/reboot-required"), "").unwrap();
    // 20,000 names of 11 bytes a line, each twice: 440 KB.
    let pkgs: String = (0..40_000)
        .map(|i| format!("pkg-{:06}\n", i % 20_000))
        .collect();
    std::fs::write(env.root.join("run/reboot-required.pkgs"), pkgs).unwrap();
    let config = crate::support::config(dir.path(), UpdateManager::Apt);
    let mut s = AuditService::with_env(&config, env);
    let (start, mut slowest) = (Instant::now(), Duration::ZERO);
    while s.completed() == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "no result");
        let polled = Instant::now();
        s.poll(polled);
        slowest = slowest.max(polled.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("slowest poll {slowest:?}, audit {:?}", start.elapsed());
    let st = status(&s);
    assert_eq!(st.reboot_required, Some(true));
    let reason = st.reboot_reason.unwrap_or_default();
    // 64 KiB hold 5,957 whole lines of the first names, each once.
    assert_eq!(
        reason,
        format!(
            "requested by {} and 5941 more",
            (0..16)
                .map(|i| format!("pkg-{i:06}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    let log = std::fs::read_to_string(s.last_result().unwrap().log_file.as_ref().unwrap()).unwrap();
    assert!(
        log.contains(
            "  reboot requested by: pkg-000015\n  reboot requested by: ... and 5941 more packages\n"
        ),
        "{log}"
    );
    // Bounded by the stall it guards against: on the code before, this
    // audit took 7.2 s, its de-duplication (a search per name) in the poll
    // that finished it, on the loop. 1 s still fails that by 7x; the
    // 300 ms it had is a figure of a quiet machine (the audit now takes
    // 0.06 s), which a loaded CI box may pass.
    assert!(slowest < Duration::from_secs(1), "a poll took {slowest:?}");
}
