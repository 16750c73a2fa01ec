//! Bodies whose size no header says, counted as they flow.

pin_project_lite::pin_project! {
    /// A body whose size no header says (chunked, streamed): its bytes are counted as they
    /// flow, and observed in `histogram` at its end — or, cut short, when it is dropped.
    struct CountedBody<B> {
        #[pin]
        inner: B,
        bytes: u64,
        histogram: Option<Histogram>,
    }

    impl<B> PinnedDrop for CountedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some((route, which)) = this.histogram.take() {
                route.observe(which, *this.bytes);
            }
        }
    }
}

/// The route whose size histogram a body's bytes go to, and which one.
type Histogram = (
    std::sync::Arc<super::metrics::RouteMetrics>,
    super::cells::Which,
);

impl<B> CountedBody<B> {
    fn new(inner: B, histogram: Histogram) -> Self {
        CountedBody {
            inner,
            bytes: 0,
            histogram: Some(histogram),
        }
    }
}

impl<B: axum::body::HttpBody> axum::body::HttpBody for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use bytes::Buf as _;
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.remaining() as u64;
                }
            }
            std::task::Poll::Ready(None) => {
                if let Some((route, which)) = this.histogram.take() {
                    route.observe(which, *this.bytes);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// `body` as axum's body type: counted into `histogram` as it flows when no length is known
/// for it (and it is not empty); as it is otherwise (no allocation for axum's own bodies).
pub(super) fn counted_body<B>(
    body: B,
    known: bool,
    histogram: Option<(
        &std::sync::Arc<super::metrics::RouteMetrics>,
        super::cells::Which,
    )>,
) -> axum::body::Body
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    match histogram {
        Some((route, which)) if !known && !body.is_end_stream() => {
            axum::body::Body::new(CountedBody::new(body, (route.clone(), which)))
        }
        _ => axum::body::Body::new(body),
    }
}
