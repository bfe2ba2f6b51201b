//! The emulator's TCP listener. In: accepted loopback connections. Out: each one wrapped in a
//! [`FaultIo`] whose [`Conn`] handle reaches the request handler as axum `ConnectInfo`, so a
//! fault can end *that* connection the way a network does: with a TCP RST (SO_LINGER 0, then
//! close; docs/fault-model.md R6), or with no answer at all (the `drop_*` faults). Every other
//! connection reads, writes and closes (FIN) exactly as a plain `TcpStream` does.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What a fault asked of one connection.
#[derive(Debug, Default)]
struct ConnState {
    /// End with a TCP RST instead of a FIN.
    reset: AtomicBool,
    /// Send nothing more: every write fails, so hyper abandons the connection.
    mute: AtomicBool,
}

/// A handle on one accepted connection, given to its requests as `ConnectInfo<Conn>`.
#[derive(Debug, Clone, Default)]
pub struct Conn(Arc<ConnState>);

impl Conn {
    /// When this connection ends, it ends with a TCP RST (SO_LINGER 0, then close) instead of
    /// a graceful FIN; whatever was already written still goes out first.
    pub fn reset_on_close(&self) {
        self.0.reset.store(true, Ordering::SeqCst);
    }

    /// From now on nothing more is written: the answer in preparation never leaves, hyper
    /// gives the connection up on the failed write, and it ends with a RST.
    pub fn drop_now(&self) {
        self.0.mute.store(true, Ordering::SeqCst);
        self.reset_on_close();
    }

    fn muted(&self) -> bool {
        self.0.mute.load(Ordering::SeqCst)
    }

    fn resetting(&self) -> bool {
        self.0.reset.load(Ordering::SeqCst)
    }
}

/// A loopback listener whose connections carry a [`Conn`] handle.
#[derive(Debug)]
pub struct FaultListener {
    inner: TcpListener,
}

impl FaultListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        FaultListener { inner }
    }
}

impl Listener for FaultListener {
    type Io = FaultIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (
                        FaultIo {
                            stream,
                            conn: Conn::default(),
                        },
                        addr,
                    )
                }
                // A connection that died before it was accepted, or a full descriptor table:
                // neither is fatal to the server; pause briefly rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.io().conn.clone()
    }
}

/// An accepted connection: a `TcpStream` plus the fault state its requests may set.
#[derive(Debug)]
pub struct FaultIo {
    stream: TcpStream,
    conn: Conn,
}

fn muted_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault injection",
    )
}

impl AsyncRead for FaultIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.conn.muted() {
            return Poll::Ready(Err(muted_error()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.conn.muted() {
            return Poll::Ready(Err(muted_error()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.muted() {
            return Poll::Ready(Err(muted_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A connection meant to end with a RST must not send a FIN first: the client would
        // read a clean end of stream before the reset.
        if self.conn.resetting() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Drop for FaultIo {
    fn drop(&mut self) {
        if self.conn.resetting() {
            // SO_LINGER with a zero timeout makes close() discard the send queue and answer
            // with a RST: the client reads ECONNRESET, as from a peer that crashed.
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}
