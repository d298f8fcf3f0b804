use std::io::Error as IoError;
use std::io::{self, ErrorKind, Read, Write};

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::connection::Connection;

use crate::{HTTPVersion, Header, Method, Response};

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// # Pipelining
///
/// If a client sends multiple requests in a row (without waiting for the response), then you will
/// get multiple `Request` objects simultaneously. This is called *requests pipelining*.
/// Tiny-http automatically reorders the responses so that you don't need to worry about the order
/// in which you call `respond` or `into_writer`.
///
/// This mechanic is disabled if:
///
///  - The body of a request is large enough (handling requires pipelining requires storing the
///    body of the request in a buffer ; if the body is too big, tiny-http will avoid doing that)
///  - A request sends a `Expect: 100-continue` header (which means that the client waits to
///    know whether its body will be processed before sending it)
///  - A request sends a `Connection: close` header or `Connection: upgrade` header (used for
///    websockets), which indicates that this is the last request that will be received on this
///    connection
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `into_writer` or `respond` being called,
/// an empty response with a 500 status code (internal server error) will automatically be
/// sent back to the client.
/// This means that if your code fails during the handling of a request, this "internal server
/// error" response will automatically be sent during the stack unwinding.
pub struct Request {
    // where to read the body from
    data_reader: Option<Box<dyn Read + Send + 'static>>,

    // if this writer is empty, then the request has been answered
    response_writer: Option<Box<dyn Write + Send + 'static>>,

    remote_addr: Option<SocketAddr>,

    method: Method,

    path: String,

    http_version: HTTPVersion,

    headers: Vec<Header>,

    body_length: Option<usize>,

    // [patch] If Some, the connection's own thread waits here for the
    // response and writes it (see `respond_detached`)
    write_back: Option<Sender<DetachedResponse>>,

    // [patch] the socket, for `respond_detached`'s first, non-waiting send
    socket: Option<Arc<Connection>>,
}

/// [patch] What the server's thread left for the connection's own thread to
/// write: the bytes of a response the socket did not take at once (maybe
/// none). The connection's thread writes them as slowly as the client reads.
pub(crate) struct DetachedResponse {
    writer: Box<dyn Write + Send + 'static>,
    rest: Vec<u8>,
}

impl DetachedResponse {
    /// Writes the rest (blocking, within the connection's timeouts).
    pub(crate) fn write(self) {
        if self.rest.is_empty() {
            return;
        }
        let mut writer = self.writer;
        if writer.write_all(&self.rest).is_ok() {
            let _ = writer.flush();
        }
    }
}

/// Builds a new request.
///
/// After the request line and headers have been read from the socket, a new `Request` object
/// is built.
///
/// [patch] `headers` have passed `crate::head::check_head` (`client.rs`), so
/// the request has no body: no `Transfer-Encoding`, no `Expect`, and a
/// `Content-Length` of 0 at most. Upstream wrapped `source_data` here in a
/// reader of the declared body (`EqualReader` for a length, chunked_transfer's
/// `Decoder` for chunks), answered `Expect: 100-continue` from `as_reader`,
/// and failed on any other `Expect`; all of that is gone with `TestRequest`,
/// the only other maker of requests (PATCHES.md). `source_data` is kept only
/// for `Connection: upgrade`, which hands the stream on.
///
/// The `Write` object will be used by the `Request` to write the response.
pub(crate) fn new_request<R, W>(
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    remote_addr: Option<SocketAddr>,
    source_data: R,
    writer: W,
) -> Request
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    // finding the content-length header (0 if there is one, see above)
    let content_length = headers
        .iter()
        .find(|h: &&Header| h.field.equiv("Content-Length"))
        .and_then(|h| FromStr::from_str(h.value.as_str()).ok());

    // true if the client sent a `Connection: upgrade` header
    let connection_upgrade = {
        match headers
            .iter()
            .find(|h: &&Header| h.field.equiv("Connection"))
            .map(|h| h.value.as_str())
        {
            Some(v) if v.to_ascii_lowercase().contains("upgrade") => true,
            _ => false,
        }
    };

    let reader = if connection_upgrade {
        // if we have a `Connection: upgrade`, always keeping the whole reader
        Box::new(source_data) as Box<dyn Read + Send + 'static>
    } else {
        // no body: dropping the request reads nothing and waits for nobody
        Box::new(io::empty()) as Box<dyn Read + Send + 'static>
    };

    Request {
        data_reader: Some(reader),
        response_writer: Some(Box::new(writer) as Box<dyn Write + Send + 'static>),
        remote_addr,
        method,
        path,
        http_version: version,
        headers,
        body_length: content_length,
        write_back: None,
        socket: None,
    }
}

impl Request {
    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client.
    #[inline]
    pub fn url(&self) -> &str {
        &self.path
    }

    /// Returns a list of all headers sent by the client.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body in bytes.
    ///
    /// Returns `None` if the length is unknown.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns the address of the client that sent this request.
    ///
    /// The address is always `Some` for TCP listeners, but always `None` for UNIX listeners
    /// (as the remote address of a UNIX client is almost always unnamed).
    ///
    /// Note that this is gathered from the socket. If you receive the request from a proxy,
    /// this function will return the address of the proxy and not the address of the actual
    /// user.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends a response with a `Connection: upgrade` header, then turns the `Request` into a `Stream`.
    ///
    /// The main purpose of this function is to support websockets.
    /// If you detect that the request wants to use some kind of protocol upgrade, you can
    ///  call this function to obtain full control of the socket stream.
    ///
    /// If you call this on a non-websocket request, tiny-http will wait until this `Stream` object
    ///  is destroyed before continuing to read or write on the socket. Therefore you should always
    ///  destroy it as soon as possible.
    pub fn upgrade<R: Read>(
        mut self,
        protocol: &str,
        response: Response<R>,
    ) -> Box<dyn ReadWrite + Send> {
        use crate::util::CustomStream;

        response
            .raw_print(
                self.response_writer.as_mut().unwrap().by_ref(),
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .ok(); // TODO: unused result

        self.response_writer.as_mut().unwrap().flush().ok(); // TODO: unused result

        let stream = CustomStream::new(self.extract_reader_impl(), self.extract_writer_impl());
        Box::new(stream) as Box<dyn ReadWrite + Send>
    }

    // [patch] `as_reader`, the request body's reader, is gone: a request
    // has no body (`crate::head`), so it read nothing (PATCHES.md).

    /// Turns the `Request` into a writer.
    ///
    /// The writer has a raw access to the stream to the user.
    /// This function is useful for things like CGI.
    ///
    /// Note that the destruction of the `Writer` object may trigger
    /// some events. For exemple if a client has sent multiple requests and the requests
    /// have been processed in parallel, the destruction of a writer will trigger
    /// the writing of the next response.
    /// Therefore you should always destroy the `Writer` as soon as possible.
    #[inline]
    pub fn into_writer(mut self) -> Box<dyn Write + Send + 'static> {
        self.extract_writer_impl()
    }

    /// Extract the response `Writer` object from the Request, dropping this `Writer` has the same side effects
    /// as the object returned by `into_writer` above.
    ///
    /// This may only be called once on a single request.
    fn extract_writer_impl(&mut self) -> Box<dyn Write + Send + 'static> {
        use std::mem;

        assert!(self.response_writer.is_some());

        let mut writer = None;
        mem::swap(&mut self.response_writer, &mut writer);
        writer.unwrap()
    }

    /// Extract the body `Reader` object from the Request.
    ///
    /// This may only be called once on a single request.
    fn extract_reader_impl(&mut self) -> Box<dyn Read + Send + 'static> {
        use std::mem;

        assert!(self.data_reader.is_some());

        let mut reader = None;
        mem::swap(&mut self.data_reader, &mut reader);
        reader.unwrap()
    }

    /// Sends a response to this request.
    #[inline]
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        self.respond_impl(response)
    }

    fn respond_impl<R>(&mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        let mut writer = self.extract_writer_impl();

        let do_not_send_body = self.method == Method::Head;

        Self::ignore_client_closing_errors(response.raw_print(
            writer.by_ref(),
            self.http_version.clone(),
            &self.headers,
            do_not_send_body,
            None,
        ))?;

        Self::ignore_client_closing_errors(writer.flush())
    }

    fn ignore_client_closing_errors(result: io::Result<()>) -> io::Result<()> {
        result.or_else(|err| match err.kind() {
            ErrorKind::BrokenPipe => Ok(()),
            ErrorKind::ConnectionAborted => Ok(()),
            ErrorKind::ConnectionRefused => Ok(()),
            ErrorKind::ConnectionReset => Ok(()),
            _ => Err(err),
        })
    }

    /// [patch] The socket `respond_detached` may send to directly.
    pub(crate) fn with_socket(mut self, socket: Option<Arc<Connection>>) -> Self {
        self.socket = socket;
        self
    }

    /// [patch] Makes `respond_detached` hand the response to `sender`.
    pub(crate) fn with_write_back(mut self, sender: Sender<DetachedResponse>) -> Self {
        self.write_back = Some(sender);
        self
    }

    /// [patch] Sends a response without waiting for the client: prints it
    /// into `scratch` (a buffer the caller reuses), sends what the socket
    /// takes at once (most answers fit whole) and leaves the rest to the
    /// connection's own thread, which reads the connection's next request
    /// only once that is written, so nothing can come between. A request
    /// without a connection thread behind it (there is none now that
    /// `TestRequest` is gone) would be answered here, like `respond`.
    pub fn respond_detached<R: Read>(mut self, response: Response<R>, scratch: &mut Vec<u8>) {
        let (Some(sender), Some(socket)) = (self.write_back.take(), self.socket.take()) else {
            let _ = self.respond(response);
            return;
        };
        scratch.clear();
        let printed = response.raw_print(
            &mut *scratch,
            self.http_version.clone(),
            &self.headers,
            self.method == Method::Head,
            None,
        );
        let rest = match (printed, socket.send_without_waiting(scratch)) {
            (Ok(()), Ok(sent)) => scratch[sent..].to_vec(),
            // The client is gone: nothing more to write.
            _ => Vec::new(),
        };
        let writer = self.extract_writer_impl();
        // The connection's thread is gone only when the connection is: then
        // there is nobody to answer.
        let _ = sender.send(DetachedResponse { writer, rest });
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method, self.path, self.remote_addr
        )
    }
}

impl Drop for Request {
    /// [patch] Runs in the thread that drops the request (sysmon's loop).
    /// Upstream, the body reader dropped here read the rest of the body off
    /// the socket, waiting for a client that may never send it; requests
    /// from a connection now carry no body (`crate::head`), so dropping the
    /// reader reads nothing and waits for nobody.
    fn drop(&mut self) {
        if self.response_writer.is_some() {
            // [patch] answered by the connection's thread when it waits for one
            if let Some(sender) = self.write_back.take() {
                let mut rest = Vec::new();
                let _ = Response::empty(500).raw_print(
                    &mut rest,
                    self.http_version.clone(),
                    &self.headers,
                    self.method == Method::Head,
                    None,
                );
                let writer = self.extract_writer_impl();
                let _ = sender.send(DetachedResponse { writer, rest });
                return;
            }
            let response = Response::empty(500);
            let _ = self.respond_impl(response); // ignoring any potential error
        }
    }
}

/// Dummy trait that regroups the `Read` and `Write` traits.
///
/// Automatically implemented on all types that implement both `Read` and `Write`.
pub trait ReadWrite: Read + Write {}
impl<T> ReadWrite for T where T: Read + Write {}

#[cfg(test)]
mod tests {
    use super::Request;

    #[test]
    fn must_be_send() {
        #![allow(dead_code)]
        fn f<T: Send>(_: &T) {}
        fn bar(rq: &Request) {
            f(rq);
        }
    }
}
