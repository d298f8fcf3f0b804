//! The example `alert_command` scripts of `init/alert/` (issue 14): ntfy
//! and a JSON webhook (curl) delivered to a listener on loopback that
//! captures the request, sendmail to a fake `sendmail` on PATH that
//! captures the mail; and the real daemon firing an alert that the webhook
//! script delivers.
#[path = "../common/mod.rs"]
mod common;

mod daemon; // the daemon fires, the webhook script delivers
mod scripts; // each script against its receiver, hostile messages included

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One HTTP request as the listener received it.
#[derive(Debug)]
pub struct Captured {
    pub method: String,
    pub path: String,
    /// Header names lowercased; a repeated header keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// An HTTP/1.1 listener on 127.0.0.1 that answers `200 ok` and hands each
/// request to the test.
pub struct Receiver {
    pub addr: SocketAddr,
    requests: mpsc::Receiver<Captured>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                if headers
                    .get("expect")
                    .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
                {
                    let _ = reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                let _ = tx.send(Captured {
                    method,
                    path,
                    headers,
                    body,
                });
            }
        });
        Receiver { addr, requests }
    }

    /// The next request, waiting up to `limit`.
    pub fn next(&self, limit: Duration) -> Option<Captured> {
        self.requests.recv_timeout(limit).ok()
    }
}

/// `init/alert/NAME` in this checkout.
pub fn script(name: &str) -> PathBuf {
    common::repo().join("init/alert").join(name)
}
