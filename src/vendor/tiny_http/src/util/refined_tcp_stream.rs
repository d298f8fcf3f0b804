use std::io::Result as IoResult;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use std::sync::Arc;

use crate::connection::Connection;

/// One half (read or write) of a connection; dropping it shuts that half.
///
/// [patch] Upstream wrapped an enum of a plain and a TLS stream and gave each
/// half its own `dup()` of the descriptor (which panicked on EMFILE). The TLS
/// code is gone (PATCHES.md) and both halves (and the requests, for
/// `respond_detached`) share the one connection through an `Arc`.
pub struct RefinedTcpStream {
    stream: Arc<Connection>,
    close_read: bool,
    close_write: bool,
}

impl RefinedTcpStream {
    /// The read half and the write half of `stream`.
    pub(crate) fn new(stream: Connection) -> (RefinedTcpStream, RefinedTcpStream) {
        let stream = Arc::new(stream);

        let read = RefinedTcpStream {
            stream: Arc::clone(&stream),
            close_read: true,
            close_write: false,
        };

        let write = RefinedTcpStream {
            stream,
            close_read: false,
            close_write: true,
        };

        (read, write)
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }

    /// [patch] The connection, for answers sent without waiting.
    pub(crate) fn connection(&self) -> Arc<Connection> {
        Arc::clone(&self.stream)
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.stream.read_shared(buf)
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.stream.write_shared(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        // a socket has nothing to flush
        Ok(())
    }
}
