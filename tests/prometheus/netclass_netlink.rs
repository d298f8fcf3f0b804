//! The `/sys/class/net` families (`node_network_up`, `_info`, `_flags`,
//! `_carrier`, ...) read from one netlink `RTM_GETLINK` dump equal, byte
//! for byte, those read from the sysfs files, and node_exporter 1.5's, in
//! a network namespace of the test's own holding the awkward cases: a
//! device down (carrier and dormant refused), one end of a veth up with
//! its peer down (no carrier), promiscuous and all-multicast counts (which
//! `dev->flags` shows and netlink's `ifi_flags` does not), an alias with
//! spaces, quotes and a backslash, names with dots, a tun device without a
//! hardware address, `tx_queue_len` and `netdev_group` past 2^31 − 1
//! (printed signed by sysfs); then a changed MTU and address, a device
//! removed, a pair added, then that pair removed and created again under
//! the same names (new ifindexes behind kept-open files).
//!
//! Three exporters run in the namespace by `ip netns exec` (which mounts
//! the namespace's sysfs on /sys): sysmon with the default `--sys-root`
//! (the netlink path), sysmon with `--sys-root` a symbolic link to /sys
//! (any other root takes the sysfs path) and node_exporter's netclass
//! collector. The test's thread joins the namespace to reach their
//! loopback ports.
use super::support::*;
use crate::common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// The families the netclass source writes, node_exporter's names.
const FAMILIES: [&str; 19] = [
    "node_network_address_assign_type",
    "node_network_carrier",
    "node_network_carrier_changes_total",
    "node_network_carrier_up_changes_total",
    "node_network_carrier_down_changes_total",
    "node_network_device_id",
    "node_network_dormant",
    "node_network_flags",
    "node_network_iface_id",
    "node_network_iface_link",
    "node_network_iface_link_mode",
    "node_network_mtu_bytes",
    "node_network_name_assign_type",
    "node_network_net_dev_group",
    "node_network_protocol_type",
    "node_network_speed_bytes",
    "node_network_transmit_queue_length",
    "node_network_info",
    "node_network_up",
];

/// A named network namespace (`ip netns add`), deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("sysmon-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        assert!(run(ip(&["netns", "add", &name])).status.success());
        Netns(name)
    }

    /// `ip netns exec NAME sh -c SCRIPT`, which must succeed.
    fn sh(&self, script: &str) {
        let mut cmd = ip(&["netns", "exec", &self.0, "sh", "-ec", script]);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let out = run(cmd);
        assert!(out.status.success(), "{script}");
    }

    /// `cmd` run inside the namespace with its sysfs on /sys.
    fn exec(&self, program: &str) -> Command {
        let mut cmd = ip(&["netns", "exec", &self.0, program]);
        cmd.env_clear();
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn ip(args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    cmd
}

/// Moves the calling thread into the namespace (its children and sockets
/// follow).
fn enter(netns: &Netns) {
    let file = std::fs::File::open(format!("/run/netns/{}", netns.0)).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: setns(2) on a descriptor that lives for the call; it changes
    // only this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// The netclass families' lines of a /metrics body, in its order.
fn netclass_lines(body: &str, with_nohandler: bool) -> Vec<String> {
    body.lines()
        .filter(|line| {
            let name = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .unwrap_or(line);
            let name = name.split(['{', ' ']).next().unwrap_or("");
            FAMILIES.contains(&name)
                || (with_nohandler && name == "node_network_receive_nohandler_total")
        })
        .map(str::to_string)
        .collect()
}

fn series(e: &Exposition) -> BTreeMap<String, f64> {
    e.samples
        .iter()
        .filter(|(s, _)| FAMILIES.contains(&s.split('{').next().unwrap_or("")))
        .map(|(s, v)| (s.clone(), *v))
        .collect()
}

/// How many of `pid`'s descriptors are files of a network device's sysfs
/// directory.
fn net_attribute_descriptors(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("/net/"))
        .count()
}

#[test]
fn netclass_from_netlink_equals_sysfs_and_node_exporter_in_a_namespace() {
    const WHAT: &str = "/sys/class/net families from netlink in a network namespace";
    if !is_root(WHAT) || !have_tool("ip", "ip netns (Debian package iproute2)") {
        return;
    }
    let netns = Netns::new("netclass");
    let body = std::thread::spawn(move || {
        enter(&netns);
        compare_at_each_step(&netns);
    })
    .join();
    if let Err(panic) = body {
        std::panic::resume_unwind(panic);
    }
}

fn compare_at_each_step(netns: &Netns) {
    netns.sh("ip link set lo up
         ip link add va type veth peer name vb.1
         ip link set va alias 'uplink \"A\" \\ b'
         ip link set va promisc on
         ip link set va up
         ip link add br.0 type bridge
         ip link set br.0 allmulticast on
         ip link set br.0 up
         echo 4294967295 > /sys/class/net/br.0/netdev_group
         ip link add ifb0 type ifb
         echo 4294967295 > /sys/class/net/ifb0/tx_queue_len
         ip link set ifb0 group 7 up
         ip tuntap add tun0 mode tun
         ip link set tun0 up
         ip tuntap add tap0 mode tap
         ip link add last type ifb
         ip link set last up");
    let dir = TempDir::new("netclass-netlink");
    std::os::unix::fs::symlink("/sys", dir.join("sys")).unwrap();
    // Each daemon with a state directory (history file) of its own.
    let start = |name: &str, extra: &[&str]| {
        let own = TempDir::new(name);
        let config =
            own.config("backup = off\nupdate_manager = none\nmetrics_cache = 0s\ninterval = 1s");
        let mut cmd = netns.exec(BIN);
        cmd.args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .args(extra)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C");
        (Daemon::spawn(cmd), own)
    };
    let (from_netlink, _netlink_dir) = start("netclass-from-netlink", &[]);
    let sys_link = dir.join("sys");
    let (from_sysfs, _sysfs_dir) = start(
        "netclass-from-sysfs",
        &["--sys-root", sys_link.to_str().unwrap()],
    );
    let node = node_exporter_via(
        &dir,
        netns.exec("prometheus-node-exporter"),
        &[
            "--collector.disable-defaults".into(),
            "--collector.netclass".into(),
        ],
    );

    let step = |what: &str| {
        // Both daemons sample /proc/net/dev again (1 s), and the kernel's
        // link watch settles operstate (up to 1 s after a carrier change).
        std::thread::sleep(Duration::from_millis(2500));
        let ours = from_netlink.get("/metrics").body_text();
        let sysfs = from_sysfs.get("/metrics").body_text();
        let lines = netclass_lines(&ours, true);
        assert_eq!(
            lines,
            netclass_lines(&sysfs, true),
            "{what}: netlink path (left) against sysfs path (right)"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("node_network_flags{")),
            "{what}: no netclass families at all:\n{ours}"
        );
        if let Some(node) = &node {
            let theirs = scrape(node.addr);
            assert_eq!(
                series(&Exposition::parse(&ours)),
                series(&theirs),
                "{what}: sysmon (left) against node_exporter (right)"
            );
        }
        lines
    };

    let first = step("start");
    for (what, want) in [
        ("alias", r#"ifalias="uplink \"A\" \\ b""#),
        (
            "down: no carrier series",
            "node_network_up{device=\"tap0\"} 0",
        ),
        (
            "promiscuous count",
            "node_network_flags{device=\"va\"} 4355",
        ),
        (
            "all-multicast count",
            "node_network_flags{device=\"br.0\"} 4611",
        ),
        (
            "signed group",
            "node_network_net_dev_group{device=\"br.0\"} -1",
        ),
        (
            "no hardware address",
            "address=\"\",broadcast=\"\",device=\"tun0\"",
        ),
        ("peer down", "operstate=\"lowerlayerdown\""),
    ] {
        assert!(
            first.iter().any(|l| l.contains(want)),
            "{what}: no line with {want}:\n{}",
            first.join("\n")
        );
    }
    // Printed as a signed number since Linux 6.x's `fmt_dec`, unsigned before.
    assert!(
        first.iter().any(|l| {
            l == "node_network_transmit_queue_length{device=\"ifb0\"} -1"
                || l == "node_network_transmit_queue_length{device=\"ifb0\"} 4294967295"
        }),
        "tx_queue_len past 2^31 - 1"
    );
    assert!(
        !first
            .iter()
            .any(|l| l.starts_with("node_network_carrier{device=\"tap0\"}")),
        "a device that is down has no carrier series"
    );
    // The netlink path reads a few files per device (speed, duplex, the
    // identity attributes), the sysfs path 23.
    let (netlink_files, sysfs_files) = (
        net_attribute_descriptors(from_netlink.pid()),
        net_attribute_descriptors(from_sysfs.pid()),
    );
    assert!(
        netlink_files * 3 < sysfs_files,
        "netlink path holds {netlink_files} sysfs files open, sysfs path {sysfs_files}: \
         did the dump fall back?"
    );
    assert_eq!(
        from_netlink.logged("/sys/class/net families:"),
        0,
        "no fallback logged: {}",
        from_netlink.dump()
    );

    netns.sh("ip link set va mtu 9000
         ip link set vb.1 address 02:00:00:00:00:07
         ip link set vb.1 up
         ip link del tap0
         ip link add vc type veth peer name vd.2.3
         ip link set vc up");
    let second = step("changed MTU and address, peer up, tap0 removed, vc added");
    assert!(
        second
            .iter()
            .any(|l| l == "node_network_mtu_bytes{device=\"va\"} 9000")
    );
    assert!(
        second
            .iter()
            .any(|l| l == "node_network_address_assign_type{device=\"vb.1\"} 3")
    );
    assert!(!second.iter().any(|l| l.contains("\"tap0\"")));
    assert!(second.iter().any(|l| l.contains("device=\"vd.2.3\"")));

    // The last two devices in the kernel's list (a veth pair registers
    // its peer first) created again: the same names in the same order, so
    // the same set of interfaces, but every kept-open file of theirs is
    // the old device's.
    netns.sh("ip link del vc
         ip link add vc type veth peer name vd.2.3
         ip link set vc mtu 1400");
    let third = step("vc and vd.2.3 removed and created again");
    assert!(
        third
            .iter()
            .any(|l| l == "node_network_mtu_bytes{device=\"vc\"} 1400")
    );
    assert_eq!(
        from_netlink.logged("/sys/class/net families:"),
        0,
        "no fallback logged: {}",
        from_netlink.dump()
    );
}

/// Installs a seccomp filter in the calling (child) process that makes
/// `socket(AF_NETLINK, ...)` fail with `EPERM`, as a unit's
/// `SystemCallFilter=`/`RestrictAddressFamilies=` would, and allows the rest.
fn refuse_netlink_sockets() -> std::io::Result<()> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let filter = [
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(AUDIT_ARCH_X86_64, 0, 5),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(libc::SYS_socket as u32, 0, 3),
        stmt(LD_W_ABS, 16), // seccomp_data.args[0], low half
        jump(libc::AF_NETLINK as u32, 0, 1),
        stmt(RET_K, 0x0005_0000 | libc::EPERM as u32), // SECCOMP_RET_ERRNO
        stmt(RET_K, 0x7fff_0000),                      // SECCOMP_RET_ALLOW
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl(2) reads `program` and the filter it points to, both
    // alive for the call; nothing else happens in the child before exec.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Under a seccomp filter that refuses netlink sockets, every scrape still
/// has the `/sys/class/net` families, read from the files and equal to a
/// daemon that reads the files anyway, and the refusal is logged once, not
/// per scrape.
#[test]
fn a_refused_netlink_socket_falls_back_to_the_files_with_one_log_line() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: the seccomp filter of this test is written for x86-64");
        return;
    }
    let dir = TempDir::new("netclass-refused");
    std::os::unix::fs::symlink("/sys", dir.join("sys")).unwrap();
    let config = dir.config("backup = off\nupdate_manager = none\nmetrics_cache = 0s");
    let mut cmd = sysmon(&[
        "run",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(refuse_netlink_sockets);
    }
    let refused = Daemon::spawn(cmd);
    let own = TempDir::new("netclass-refused-sysfs");
    let own_config = own.config("backup = off\nupdate_manager = none\nmetrics_cache = 0s");
    let from_sysfs = Daemon::start(&[
        "--config",
        own_config.to_str().unwrap(),
        "--sys-root",
        dir.join("sys").to_str().unwrap(),
    ]);
    for _ in 0..3 {
        let ours = netclass_lines(&refused.get("/metrics").body_text(), true);
        let theirs = netclass_lines(&from_sysfs.get("/metrics").body_text(), true);
        assert!(
            ours.iter().any(|l| l.starts_with("node_network_up{")),
            "no netclass families under the filter:\n{}",
            refused.dump()
        );
        // Counters of a busy interface may move between the two scrapes;
        // the properties do not.
        let stable = |lines: Vec<String>| -> Vec<String> {
            lines
                .into_iter()
                .filter(|l| !l.contains("_total"))
                .collect()
        };
        assert_eq!(stable(ours), stable(theirs));
    }
    assert_eq!(
        refused.logged("/sys/class/net families: netlink socket refused"),
        1,
        "{}",
        refused.dump()
    );
    assert_eq!(
        refused.logged("/sys/class/net families:"),
        1,
        "{}",
        refused.dump()
    );
}

/// Runs `body` on a thread inside a fresh namespace (`tag` names it), so
/// the test reaches the daemons' loopback ports; `None` when not root or
/// without `ip` (SKIPPED printed).
fn in_namespace(tag: &str, what: &str, body: impl FnOnce(&Netns) + Send + 'static) {
    if !is_root(what) || !have_tool("ip", "ip netns (Debian package iproute2)") {
        return;
    }
    let netns = Netns::new(tag);
    let joined = std::thread::spawn(move || {
        enter(&netns);
        body(&netns);
    })
    .join();
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

/// A sysmon in the namespace (`extra` arguments), scraped with every
/// scrape a render; its directory is returned with it.
fn daemon_in(netns: &Netns, name: &str, extra: &[&str]) -> (Daemon, TempDir) {
    let own = TempDir::new(name);
    let config =
        own.config("backup = off\nupdate_manager = none\nmetrics_cache = 0s\ninterval = 1s");
    let mut cmd = netns.exec(BIN);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .args(extra)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C");
    (Daemon::spawn(cmd), own)
}

/// `lo` and an ifb device (no `get_link_ksettings`: net-sysfs.c refuses
/// their `speed` and `duplex` with EINVAL while they are up) have those
/// files read once, not at every scrape, while nothing about them
/// changes; a veth's (which its driver answers) are read at every scrape;
/// and the families still equal the sysfs path's when the ifb device goes
/// down and up again (asked again once).
#[test]
fn a_link_setting_the_kernel_refuses_is_not_asked_again_at_every_scrape() {
    const WHAT: &str = "lo's refused speed and duplex over netlink";
    if !have_tool("strace", "the files a scrape reads") {
        return;
    }
    in_namespace("linkset", WHAT, |netns| {
        netns.sh("ip link set lo up
             ip link add i0 type ifb
             ip link set i0 up
             ip link add va type veth peer name vb
             ip link set va up
             ip link set vb up");
        let (ours, own) = daemon_in(netns, "linkset-netlink", &[]);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            ours.get("/metrics")
                .body_text()
                .contains("node_network_speed_bytes{device=\"va\"}"),
            "{}",
            ours.dump()
        );
        let log = own.join("reads.strace");
        // The loop's thread (the main thread's id), descriptors shown as
        // paths.
        let mut strace = Command::new("strace")
            .args(["-qq", "-y", "-e", "trace=openat,pread64", "-o"])
            .arg(&log)
            .args(["-p", &ours.pid().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("strace");
        std::thread::sleep(Duration::from_millis(700));
        const SCRAPES: usize = 10;
        for _ in 0..SCRAPES {
            ours.get("/metrics");
        }
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill")
            .args(["-INT", &strace.id().to_string()])
            .status();
        let _ = strace.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let reads = |file: &str| text.lines().filter(|l| l.contains(file)).count();
        for refused in [
            "/net/lo/speed",
            "/net/lo/duplex",
            "/net/i0/speed",
            "/net/i0/duplex",
        ] {
            assert_eq!(reads(refused), 0, "{refused} read again:\n{text}");
        }
        // The answered ones each scrape (at least: a sample may also
        // fall in the window), so the trace did see the scrapes.
        assert!(reads("/net/va/speed>") >= SCRAPES, "{text}");
        assert!(reads("/net/va/duplex>") >= SCRAPES, "{text}");

        let dir = TempDir::new("linkset-sysfs-root");
        std::os::unix::fs::symlink("/sys", dir.join("sys")).unwrap();
        let sys_link = dir.join("sys");
        let (files, _files_dir) = daemon_in(
            netns,
            "linkset-sysfs",
            &["--sys-root", sys_link.to_str().unwrap()],
        );
        for step in ["ip link set i0 down", "ip link set i0 up"] {
            netns.sh(step);
            std::thread::sleep(Duration::from_millis(2500));
            assert_eq!(
                netclass_lines(&ours.get("/metrics").body_text(), false),
                netclass_lines(&files.get("/metrics").body_text(), false),
                "after `{step}`: netlink path (left) against sysfs path (right)"
            );
        }
    });
}

/// A kept-open sysfs file whose device was removed reads ENODEV; a device
/// created again at the same path (a driver reloaded between two scrapes:
/// same listing) is read from its new file at the next scrape. A power
/// supply directory that is a link to a network device's (whose `type`
/// file is one of the class's text attributes) makes the case with
/// devices a test can remove and create: an ifb device, deleted and added
/// again under the same name.
#[test]
fn a_kept_sysfs_file_of_a_device_created_again_is_opened_again() {
    const WHAT: &str = "a kept-open sysfs attribute of a re-created device";
    in_namespace("recreated", WHAT, |netns| {
        netns.sh("ip link set lo up
             ip link add d0 type ifb");
        let dir = TempDir::new("recreated-sys");
        std::fs::create_dir_all(dir.join("sys/class/power_supply")).unwrap();
        std::os::unix::fs::symlink("/sys/class/net/d0", dir.join("sys/class/power_supply/d0"))
            .unwrap();
        let sys = dir.join("sys");
        let (ours, _own) = daemon_in(netns, "recreated", &["--sys-root", sys.to_str().unwrap()]);
        let want = "node_power_supply_info{power_supply=\"d0\",type=\"1\"} 1";
        let info = |daemon: &Daemon| -> Vec<String> {
            daemon
                .get("/metrics")
                .body_text()
                .lines()
                .filter(|l| l.starts_with("node_power_supply_info{"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(info(&ours), [want], "{}", ours.dump());
        netns.sh("ip link del d0
             ip link add d0 type ifb");
        assert_eq!(info(&ours), [want], "after d0 was created again");
        assert_eq!(info(&ours), [want], "a scrape later");
    });
}
