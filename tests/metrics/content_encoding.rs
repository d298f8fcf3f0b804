//! /metrics gzipped for a scrape that accepts it (issue 16: the answer's
//! time was its bytes on the loopback; Prometheus asks with
//! `Accept-Encoding: gzip`), identity otherwise, `Vary` on both.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::*;

/// A daemon whose /metrics body answers every scrape of a test from one
/// render: no sample comes (a minute apart), the cache holds for its
/// longest, and the requests of one exchange share a connection (the
/// connection counters are part of what a render is kept for).
fn start(dir: &TempDir) -> Daemon {
    Daemon::on_fixture(dir, "interval = 1m\nmetrics_cache = 1m")
}

/// One answer of an exchange.
#[derive(Debug)]
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn content_length(&self) -> usize {
        self.header("Content-Length")
            .unwrap_or_else(|| panic!("no Content-Length in {}", self.head))
            .parse()
            .unwrap()
    }

    fn gzipped(&self) -> bool {
        match self.header("Content-Encoding") {
            None => false,
            Some("gzip") => true,
            Some(other) => panic!("Content-Encoding: {other}"),
        }
    }
}

/// Sends `requests` (method and extra header lines each) for /metrics
/// pipelined on one HTTP/1.1 connection, and reads their answers: each
/// body by its `Content-Length`, none for HEAD; a chunked one (the
/// client's `TE: chunked`) de-chunked.
fn exchange(addr: SocketAddr, requests: &[(&str, &str)]) -> Vec<Answer> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = String::new();
    for (i, (method, lines)) in requests.iter().enumerate() {
        let close = if i + 1 == requests.len() {
            "Connection: close\r\n"
        } else {
            ""
        };
        raw += &format!("{method} /metrics HTTP/1.1\r\nHost: {addr}\r\n{lines}{close}\r\n");
    }
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read the answers");
    let mut rest = &bytes[..];
    let mut answers = Vec::new();
    for (method, _) in requests {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{} answers of {}", answers.len(), requests.len()))
            + 4;
        let head = String::from_utf8(rest[..end - 4].to_vec()).unwrap();
        rest = &rest[end..];
        let mut answer = Answer {
            head,
            body: Vec::new(),
        };
        if *method == "HEAD" {
        } else if answer.header("Transfer-Encoding") == Some("chunked") {
            loop {
                let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                let size_text = std::str::from_utf8(&rest[..line_end]).unwrap();
                let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
                rest = &rest[line_end + 2..];
                answer.body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = answer.content_length();
            answer.body = rest[..length].to_vec();
            rest = &rest[length..];
        }
        answers.push(answer);
    }
    assert!(rest.is_empty(), "{} bytes after the answers", rest.len());
    answers
}

fn gunzip(member: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(member)
        .read_to_end(&mut plain)
        .expect("the body gunzips");
    plain
}

/// A gzip scrape's body is the identity answer of the same render,
/// compressed; both carry `Vary: Accept-Encoding`, only it
/// `Content-Encoding: gzip`; HEAD gets the GET's headers and no body.
#[test]
fn a_gzip_scrape_gets_the_same_body_compressed() {
    let dir = TempDir::new("metrics-gzip");
    let daemon = start(&dir);
    let answers = exchange(
        daemon.addr,
        &[
            ("GET", "Accept-Encoding: gzip\r\n"),
            ("GET", ""),
            ("HEAD", "Accept-Encoding: gzip\r\n"),
            ("HEAD", ""),
            ("GET", "Accept-Encoding: gzip\r\n"),
        ],
    );
    let [gzip, plain, gzip_head, plain_head, gzip_again] = &answers[..] else {
        unreachable!()
    };
    for (answer, is_gzip) in [
        (gzip, true),
        (plain, false),
        (gzip_head, true),
        (plain_head, false),
        (gzip_again, true),
    ] {
        assert!(answer.head.starts_with("HTTP/1.1 200 "), "{}", answer.head);
        assert_eq!(answer.gzipped(), is_gzip, "{}", answer.head);
        assert_eq!(
            answer.header("Vary"),
            Some("Accept-Encoding"),
            "{}",
            answer.head
        );
        assert_eq!(
            answer.header("Content-Type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
    }
    assert_eq!(gzip.content_length(), gzip.body.len());
    assert_eq!(
        gunzip(&gzip.body),
        plain.body,
        "gunzipped, the gzip answer is the identity one\n{}",
        daemon.dump()
    );
    assert!(
        gzip.body.len() * 3 < plain.body.len(),
        "{} bytes gzipped of {}",
        gzip.body.len(),
        plain.body.len()
    );
    // The member is kept for the render: the same bytes again.
    assert_eq!(gzip_again.body, gzip.body);
    assert_eq!(gzip_head.content_length(), gzip.body.len());
    assert!(gzip_head.body.is_empty());
    assert_eq!(plain_head.content_length(), plain.body.len());
    assert!(
        String::from_utf8_lossy(&plain.body).contains("\nnode_load1 "),
        "{}",
        String::from_utf8_lossy(&plain.body)
    );
}

/// Which `Accept-Encoding` lines get gzip (RFC 9110 §12.5.3): gzip or
/// x-gzip named with a weight above zero, or `*` when gzip is not named;
/// several lines are one list. Nothing here is an error: a bad weight
/// only means identity.
#[test]
fn accept_encoding_decides_the_coding() {
    let dir = TempDir::new("metrics-accept-encoding");
    let daemon = start(&dir);
    let cases: &[(&str, bool)] = &[
        ("", false),
        ("Accept-Encoding: identity\r\n", false),
        ("Accept-Encoding: gzip;q=0\r\n", false),
        ("Accept-Encoding: br\r\n", false),
        ("Accept-Encoding: *;q=0\r\n", false),
        ("Accept-Encoding: gzip;q=0, *\r\n", false),
        ("Accept-Encoding: gzip;q=nope\r\n", false),
        ("Accept-Encoding:\r\n", false),
        (
            "Accept-Encoding: gzip\r\nAccept-Encoding: gzip;q=0\r\n",
            false,
        ),
        ("Accept-Encoding: x-gzip\r\n", true),
        ("Accept-Encoding: GZIP\r\n", true),
        ("accept-encoding: deflate, gzip;q=0.5\r\n", true),
        ("Accept-Encoding: *\r\n", true),
        ("Accept-Encoding: gzip, deflate, br, zstd\r\n", true),
        ("Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", true),
        ("TE: chunked\r\nAccept-Encoding: gzip\r\n", true),
    ];
    let requests: Vec<(&str, &str)> = cases.iter().map(|(lines, _)| ("GET", *lines)).collect();
    let answers = exchange(daemon.addr, &requests);
    let plain = &answers[0].body;
    for ((lines, gzip), answer) in cases.iter().zip(&answers) {
        assert!(
            answer.head.starts_with("HTTP/1.1 200 "),
            "{lines:?}: {}",
            answer.head
        );
        assert_eq!(answer.gzipped(), *gzip, "{lines:?}: {}", answer.head);
        assert_eq!(answer.header("Vary"), Some("Accept-Encoding"), "{lines:?}");
        let body = if *gzip {
            gunzip(&answer.body)
        } else {
            answer.body.clone()
        };
        assert_eq!(&body, plain, "{lines:?}: not the same render's body");
    }
    // The client's TE: chunked got chunks, gzipped inside.
    let chunked = answers.last().unwrap();
    assert_eq!(
        chunked.header("Transfer-Encoding"),
        Some("chunked"),
        "{}",
        chunked.head
    );
}

/// A hostile `Accept-Encoding`: some 7 KiB of members and junk weights,
/// gzip last. Read in one pass; the answer is a 200 as for any other.
#[test]
fn a_long_accept_encoding_line_is_answered() {
    let dir = TempDir::new("metrics-accept-encoding-long");
    let daemon = start(&dir);
    let members = "br;q=0.5;x, ;;, *;q=9, ".repeat(300);
    let lines = [
        format!("Accept-Encoding: {members}gzip\r\n"),
        format!("Accept-Encoding: {members}\r\n"),
    ];
    let answers = exchange(daemon.addr, &[("GET", &lines[0]), ("GET", &lines[1])]);
    assert!(
        answers[0].head.starts_with("HTTP/1.1 200 "),
        "{}",
        answers[0].head
    );
    assert!(answers[0].gzipped());
    assert!(
        answers[1].head.starts_with("HTTP/1.1 200 "),
        "{}",
        answers[1].head
    );
    assert!(!answers[1].gzipped(), "`*;q=9` is not a weight");
    assert_eq!(gunzip(&answers[0].body), answers[1].body);
}
