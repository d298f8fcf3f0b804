//! `node_udp_queues` equals node_exporter's in a network namespace of the
//! test's own, first with no UDP socket at all (sysmon then takes
//! net/sockstat's `UDP: inuse 0` for the sums and does not read net/udp,
//! which walks the kernel's whole UDP hash table) and then with sockets
//! holding unread datagrams on 127.0.0.1, ::1 and a v4-mapped address
//! (sysmon reads the tables). Both exporters read the same proc root: the
//! machine's /proc with `net` taken from a thread of this test that left
//! for a new namespace, so no other program's sockets are counted.
use super::support::*;
use crate::common::*;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// What the namespace's thread is asked to do.
enum Ask {
    /// Bind the sockets below and queue datagrams on them; answer with them.
    Sockets(mpsc::Sender<Vec<UdpSocket>>),
}

/// A thread in a new network namespace with its loopback up: its thread
/// id, and where to ask it for sockets there (`None` if it could not
/// leave: not root, or namespaces disabled).
fn namespace_thread() -> Option<(i32, mpsc::Sender<Ask>)> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (ask_tx, ask_rx) = mpsc::channel::<Ask>();
    std::thread::spawn(move || {
        // SAFETY: unshare(2) changes only this thread's namespaces; the
        // ioctls get an ifreq that lives on this stack for the call.
        let ok = unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                false
            } else {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
                let mut req: libc::ifreq = std::mem::zeroed();
                for (i, b) in b"lo\0".iter().enumerate() {
                    req.ifr_name[i] = *b as libc::c_char;
                }
                let up = fd >= 0 && libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0 && {
                    req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                    libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) == 0
                };
                if fd >= 0 {
                    libc::close(fd);
                }
                up
            }
        };
        // SAFETY: gettid(2) has no preconditions.
        let tid = unsafe { libc::gettid() };
        let _ = ready_tx.send(ok.then_some(tid));
        // Stay (the proc root's `net` is this thread's) until the test ends.
        for ask in ask_rx {
            match ask {
                Ask::Sockets(reply) => {
                    let _ = reply.send(queued_sockets());
                }
            }
        }
    });
    let tid = ready_rx.recv().ok().flatten()?;
    Some((tid, ask_tx))
}

/// Receivers with unread datagrams (three of 100 bytes on 127.0.0.1, one
/// of 10 on ::1, two of 7 on a v4-mapped IPv6 socket) and their senders.
fn queued_sockets() -> Vec<UdpSocket> {
    let mut all = Vec::new();
    for (receiver, sender, count, size) in [
        ("127.0.0.1:0", "127.0.0.1:0", 3, 100),
        ("[::1]:0", "[::1]:0", 1, 10),
        ("[::ffff:127.0.0.1]:0", "[::]:0", 2, 7),
    ] {
        let r = UdpSocket::bind(receiver).unwrap();
        let s = UdpSocket::bind(sender).unwrap();
        for _ in 0..count {
            s.send_to(&vec![b'x'; size], r.local_addr().unwrap())
                .unwrap();
        }
        all.push(r);
        all.push(s);
    }
    all
}

/// The machine's /proc in `dir`, entry by entry as symbolic links, but
/// with `net` from `/proc/<pid>/task/<tid>/net`.
fn proc_root_with_net_of(dir: &TempDir, tid: i32) -> PathBuf {
    let root = dir.join("proc");
    std::fs::create_dir_all(&root).unwrap();
    for entry in std::fs::read_dir("/proc").unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_str().unwrap();
        if name == "net" || name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        std::os::unix::fs::symlink(Path::new("/proc").join(name), root.join(name)).unwrap();
    }
    let net = format!("/proc/{}/task/{tid}/net", std::process::id());
    std::os::unix::fs::symlink(net, root.join("net")).unwrap();
    root
}

/// The (tx, rx) sums of a net/udp table, read here as the oracle.
fn sums_of(table: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(table).unwrap();
    text.lines().skip(1).fold((0, 0), |(tx, rx), line| {
        let queues = line.split_whitespace().nth(4).unwrap();
        let (t, r) = queues.split_once(':').unwrap();
        let hex = |s| u64::from_str_radix(s, 16).unwrap();
        (tx + hex(t), rx + hex(r))
    })
}

fn udp_queues(e: &Exposition) -> BTreeMap<BTreeMap<String, String>, f64> {
    e.family("node_udp_queues").into_iter().collect()
}

fn value(e: &Exposition, family: &str) -> f64 {
    let series = e.family(family);
    assert_eq!(series.len(), 1, "{family}: {series:?}");
    series[0].1
}

#[test]
fn udp_queues_equal_node_exporters_with_and_without_sockets() {
    const WHAT: &str = "node_udp_queues in a network namespace of its own";
    if !is_root(WHAT) {
        return;
    }
    let Some((tid, ask)) = namespace_thread() else {
        panic!("{WHAT}: unshare(CLONE_NEWNET) failed as root");
    };
    let dir = TempDir::new("udp-queues");
    let root = proc_root_with_net_of(&dir, tid);
    let Some(node) = node_exporter_with(
        &dir,
        &[
            format!("--path.procfs={}", root.display()),
            "--collector.disable-defaults".into(),
            "--collector.udp_queues".into(),
        ],
    ) else {
        return;
    };
    let config = dir.config("backup = off\nupdate_manager = none\nmetrics_cache = 0s");
    let sysmon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);

    // No socket in the namespace: all four sums are 0, as node_exporter
    // finds them by reading the (empty) tables.
    let ours = scrape(sysmon.addr);
    assert_eq!(value(&ours, "node_sockstat_UDP_inuse"), 0.0);
    assert_eq!(value(&ours, "node_sockstat_UDP6_inuse"), 0.0);
    let theirs = scrape(node.addr);
    assert_eq!(udp_queues(&ours), udp_queues(&theirs));
    assert_eq!(udp_queues(&ours).len(), 4, "{:?}", udp_queues(&ours));
    assert!(udp_queues(&ours).values().all(|v| *v == 0.0));

    // Sockets with unread datagrams: sysmon reads the tables.
    let (reply, sockets) = mpsc::channel();
    ask.send(Ask::Sockets(reply)).unwrap();
    let sockets = sockets.recv().unwrap();
    let ours = scrape(sysmon.addr);
    let theirs = scrape(node.addr);
    assert_eq!(value(&ours, "node_sockstat_UDP_inuse"), 2.0);
    assert_eq!(value(&ours, "node_sockstat_UDP6_inuse"), 4.0);
    assert_eq!(udp_queues(&ours), udp_queues(&theirs));
    for (ip, file) in [("v4", "udp"), ("v6", "udp6")] {
        let (tx, rx) = sums_of(&root.join("net").join(file));
        assert!(rx > 0, "{ip}: nothing queued");
        for (queue, want) in [("tx", tx), ("rx", rx)] {
            let labels = BTreeMap::from([
                ("ip".to_string(), ip.to_string()),
                ("queue".to_string(), queue.to_string()),
            ]);
            assert_eq!(udp_queues(&ours).get(&labels), Some(&(want as f64)));
        }
    }

    // Closed again: back to 0 without reading.
    drop(sockets);
    let ours = scrape(sysmon.addr);
    assert_eq!(udp_queues(&ours), udp_queues(&scrape(node.addr)));
    assert!(udp_queues(&ours).values().all(|v| *v == 0.0));
}
