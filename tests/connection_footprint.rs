//! Connections cost memory, not threads (issue #16): the patched tiny_http
//! serves every listener and connection from one epoll, turned by the
//! daemon's loop in its own thread, so 1,000 idle connections add no thread
//! and little memory. With a thread per connection, 1,000 idle connections
//! were 1,002 threads and 25-30 MiB more RSS in the debug build; with one
//! I/O thread beside the loop, 3 threads. Counted, not timed.
mod common;
use common::*;
use std::net::TcpStream;
use std::time::Duration;

/// The daemon's own count of open connections (`/metrics`), the request
/// asking for it included.
fn open_connections(daemon: &Daemon) -> u64 {
    let metrics = daemon.get("/metrics").body_text();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("sysmon_http_connections "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no sysmon_http_connections in /metrics:\n{metrics}")) as u64
}

/// The thread bound this design promises whatever the connections (with
/// no audit running, whose parse and restart scan take a thread each for a
/// moment): the loop, which serves HTTP too, and the signal thread (issue
/// #16's goal is 16 in both cases).
const MAX_THREADS: u64 = 2;

#[test]
fn a_thousand_idle_connections_add_no_threads_and_little_memory() {
    let dir = TempDir::new("footprint");
    let daemon = Daemon::on_fixture(&dir, "client_timeout = 60s");
    // Let start-up settle (first sample, history buffers).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    let threads_idle = proc_status_number(daemon.pid(), "Threads:");
    let rss_idle = rss_kib(daemon.pid());

    let held: Vec<TcpStream> = (0..1000)
        .map(|i| TcpStream::connect(daemon.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    // Wait until the server has taken every one (the count is the
    // server's own, so this is not a timing guess).
    let open = wait_for(Duration::from_secs(10), || {
        let open = open_connections(&daemon);
        (open > 1000).then_some(open)
    });
    assert!(
        open.is_some(),
        "the server never counted 1,000 open connections: {}\n{}",
        open_connections(&daemon),
        daemon.dump()
    );
    let threads_held = proc_status_number(daemon.pid(), "Threads:");
    let rss_held = rss_kib(daemon.pid());
    // A fresh client is still served while they are held.
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    eprintln!(
        "threads: {threads_idle} idle, {threads_held} with 1,000 idle connections; \
         RSS: {rss_idle} KiB idle, {rss_held} KiB with them (+{} KiB, debug build)",
        rss_held.saturating_sub(rss_idle)
    );
    assert!(
        threads_idle <= MAX_THREADS,
        "{threads_idle} threads idle\n{}",
        daemon.dump()
    );
    assert!(
        threads_held <= MAX_THREADS,
        "{threads_held} threads with 1,000 idle connections (a thread per connection?)"
    );
    // Measured +0.3 MiB; a thread per connection cost ~25 MiB. Generous, so
    // that allocator noise on a busy machine does not fail it.
    assert!(
        rss_held <= rss_idle + 4 * 1024,
        "RSS grew from {rss_idle} KiB to {rss_held} KiB with 1,000 idle connections"
    );
    drop(held);
    // And they are let go: the count falls back to the asker alone.
    let drained = wait_for(Duration::from_secs(10), || {
        (open_connections(&daemon) == 1).then_some(())
    });
    assert!(
        drained.is_some(),
        "connections not closed after the clients left"
    );
}
