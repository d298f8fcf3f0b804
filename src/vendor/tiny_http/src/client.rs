use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // [patch] request head limits
    limits: crate::Limits,

    // [patch] the socket, for answers sent without waiting
    socket: std::sync::Arc<crate::connection::Connection>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    ReadIoError(IoError),
    /// [patch] the request line went over `max_head_bytes`
    RequestLineTooLong,
    /// [patch] the headers went over `max_head_bytes` or `max_headers`
    HeadersTooLarge(HTTPVersion),
    /// [patch] the head declares a body or frames itself ambiguously
    /// (`crate::head`)
    Refused(crate::HeadRefusal),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        limits: crate::Limits,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let socket = write_socket.connection();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            limits,
            socket,
        }
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// [patch] Takes each byte from `budget`, the bytes the request head may
    /// still use, and returns `Ok(None)` when it runs out: upstream read a
    /// line of any length into memory.
    fn read_next_line(&mut self, budget: &mut usize) -> IoResult<Option<AsciiString>> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            if *budget == 0 {
                return Ok(None);
            }
            *budget -= 1;

            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf)
                    .map(Some)
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII"));
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// [patch] Answers a refused head with `Connection: close`, then closes
    /// gently: the client may already be sending the body it declared, and
    /// closing with unread data makes the kernel send a reset, which can
    /// destroy the answer before the client reads it. So the write side is
    /// shut first and what arrives is read and thrown away for a moment,
    /// through a fixed buffer, whatever the size declared.
    fn refuse(&mut self, refusal: crate::HeadRefusal) {
        use crate::StatusCode;
        use std::io::Write;

        // Written here rather than through `Response`, which drops a
        // `Connection` header: the client must know that this is the end.
        let mut writer = self.sink.next().unwrap();
        let status = StatusCode(refusal.status());
        let reason = refusal.reason();
        let written = write!(
            writer,
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            status.0,
            status.default_reason_phrase(),
            reason.len(),
            reason
        );
        if written.and_then(|()| writer.flush()).is_err() {
            return;
        }
        let socket = &self.socket;
        if socket.shutdown(std::net::Shutdown::Write).is_err() {
            return;
        }
        const LINGER: std::time::Duration = std::time::Duration::from_millis(500);
        const LINGER_BYTES: usize = 64 * 1024;
        let until = std::time::Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match socket.read_shared(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let mut budget = match self.limits.max_head_bytes {
            0 => usize::MAX,
            limit => limit,
        };
        let max_headers = match self.limits.max_headers {
            0 => usize::MAX,
            limit => limit,
        };
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = self
                    .read_next_line(&mut budget)
                    .map_err(ReadError::ReadIoError)?
                    .ok_or(ReadError::RequestLineTooLong)?;

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = self
                        .read_next_line(&mut budget)
                        .map_err(ReadError::ReadIoError)?
                        .ok_or(ReadError::HeadersTooLarge(version.clone()))?;

                    if line.is_empty() {
                        break;
                    };
                    // [patch] A line folded onto the previous one (obs-fold)
                    // was trimmed and read as a header of its own; RFC 9112
                    // §5.2 lets a server refuse it, and a proxy may have
                    // joined it to the line before: refuse.
                    if line.as_bytes()[0] == b' ' || line.as_bytes()[0] == b'\t' {
                        return Err(ReadError::WrongHeader(version));
                    }
                    if headers.len() >= max_headers {
                        return Err(ReadError::HeadersTooLarge(version));
                    }
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                // [patch] Refused here, in the connection's own thread, before
                // a `Request` exists: nothing of a declared body is ever
                // read, waited for or sized, and the server's caller never
                // sees the request.
                if let Err(refusal) = crate::head::check_head(&headers) {
                    return Err(ReadError::Refused(refusal));
                }

                headers
            };

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            method,
            path,
            version.clone(),
            headers,
            // [patch] was unwrap(): getpeername() fails (ENOTCONN) when the
            // client has already gone, which panicked the worker
            self.remote_addr.as_ref().ok().copied().flatten(),
            data_source,
            writer,
        );

        let request = request.with_socket(Some(self.socket.clone()));

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                    // request timeout
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(408));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // closing the connection
                }

                Err(ReadError::RequestLineTooLong) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(414));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // the rest of the line is unread: close
                }

                Err(ReadError::HeadersTooLarge(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(431));
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // the rest of the head is unread: close
                }

                Err(ReadError::Refused(refusal)) => {
                    self.refuse(refusal);
                    return None; // where the request ends is unknown: close
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
