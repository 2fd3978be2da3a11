//! A ceiling on how fast one connection's bytes are read.
//!
//! Every message a client sends costs the server some work, and some cost
//! work while saying nothing: a WebSocket message of endless empty
//! continuation frames never completes, so nothing above the WebSocket
//! layer sees it, yet parsing it burnt about a CPU-second per second
//! (issue 27, item 10); a ping flood makes the server write a pong for
//! each. Reading each connection no faster than a few times what its
//! protocol needs bounds all of them at once, whatever the framing: the
//! client's further bytes wait in its own socket buffers. A real stream
//! never meets the ceiling (the richest, a 16 kHz stereo FreeSWITCH fork,
//! sends 64 kB/s), and one that catches up after a stall drains its
//! backlog at the ceiling.
//!
//! Hand-rolled rather than taken from a crate: the well-kept limiters
//! (`governor`, tower's `RateLimit`) count requests, not bytes read below
//! the HTTP and WebSocket layers, which is where this must sit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, read at most `rate` bytes a second on average, with up to one
/// second's worth at once. Writes pass straight through.
#[derive(Debug)]
pub struct Throttled<S> {
    inner: S,
    rate: f64,
    /// Bytes that may be read now; negative after a read larger than what
    /// was left (a read takes what the socket has), repaid before the next.
    tokens: f64,
    last: Instant,
    // Allocated once, reset on each wait.
    wait: Pin<Box<Sleep>>,
}

impl<S> Throttled<S> {
    /// Reads `inner` at most `bytes_per_s` (at least 1) on average.
    pub fn new(inner: S, bytes_per_s: usize) -> Self {
        let rate = bytes_per_s.max(1) as f64;
        Self {
            inner,
            rate,
            tokens: rate,
            last: Instant::now(),
            wait: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.refill();
        if this.tokens < 1.0 {
            let secs = (1.0 - this.tokens) / this.rate;
            this.wait
                .as_mut()
                .reset(Instant::now() + Duration::from_secs_f64(secs));
            if this.wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.refill();
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.tokens -= (buf.filled().len() - before) as f64;
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A writer that never stops gets through at the ceiling, not at
    /// memory speed; a stream under it is never held back.
    #[tokio::test(start_paused = true)]
    async fn an_endless_writer_is_read_at_the_ceiling_and_a_slow_one_untouched() {
        let (mut tx, rx) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(async move {
            let junk = [0u8; 4096];
            while tx.write_all(&junk).await.is_ok() {}
        });
        let mut r = Throttled::new(rx, 100_000);
        let mut buf = vec![0u8; 8192];
        let t0 = Instant::now();
        let mut got = 0usize;
        while t0.elapsed() < Duration::from_secs(3) {
            got += r.read(&mut buf).await.unwrap_or(0);
        }
        // One second's burst, three seconds at the rate, and a read's
        // overshoot at either end.
        assert!(
            got <= 400_000 + 2 * 8192,
            "read {got} bytes in 3 s at 100 kB/s"
        );
        assert!(got >= 300_000, "read only {got} bytes in 3 s at 100 kB/s");
        writer.abort();

        // 20 ms frames of 640 bytes (32 kB/s): every one read on time.
        let (mut tx, rx) = tokio::io::duplex(1 << 16);
        let mut r = Throttled::new(rx, 100_000);
        for _ in 0..200 {
            tx.write_all(&[1u8; 640]).await.unwrap_or(());
            let t = Instant::now();
            r.read_exact(&mut buf[..640]).await.unwrap_or(0);
            assert_eq!(
                t.elapsed(),
                Duration::ZERO,
                "a stream under the ceiling waited"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
