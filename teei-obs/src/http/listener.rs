//! Connections counted in `active_connections{type="http"}` as they open and close.

/// A listener for `axum::serve` that counts the connections it accepted and that are
/// still open in `active_connections{type="http"}` (from [`Obs::listener`](crate::Obs::listener)),
/// over any axum [`Listener`](axum::serve::Listener) — its accept-error handling included.
///
/// ```no_run
/// # async fn run(obs: teei_obs::Obs, app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(obs.listener(listener), app).await
/// # }
/// ```
#[derive(Debug)]
pub struct CountedListener<L> {
    inner: L,
    open: prometheus::IntGauge,
}

impl<L> CountedListener<L> {
    pub(crate) fn new(inner: L, open: prometheus::IntGauge) -> Self {
        CountedListener { inner, open }
    }
}

impl<L: axum::serve::Listener> axum::serve::Listener for CountedListener<L> {
    type Io = CountedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        self.open.inc();
        (
            CountedIo {
                io,
                open: self.open.clone(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection, counted in `active_connections` until it is dropped.
#[derive(Debug)]
pub struct CountedIo<T> {
    io: T,
    open: prometheus::IntGauge,
}

impl<T> Drop for CountedIo<T> {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for CountedIo<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for CountedIo<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
