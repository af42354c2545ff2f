//! One request's presence in the metrics: counted in flight from arrival until its response
//! body is sent (or dropped), with the response bytes added when it ends.
//!
//! A [`Flight`] is a guard: dropping it is what ends the request, so a client that disconnects
//! mid-body, a cancelled request future or a panic all leave the in-flight counts right. It does
//! not record status or latency (the proxy does, when the response head is known).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::hold::Queue;
use crate::metrics::Series;

pub(crate) struct Flight {
    env: Arc<Series>,
    instance: Option<Arc<Series>>,
    bytes_out: u64,
    /// The environment's queue, told when this request ends, if the environment limits the
    /// requests in flight per instance (held requests wait for that room).
    queue: Option<Arc<Queue>>,
}

impl Flight {
    pub(crate) fn start(env: &Arc<Series>, queue: Option<&Arc<Queue>>) -> Self {
        env.start_request();
        Self { env: env.clone(), instance: None, bytes_out: 0, queue: queue.cloned() }
    }

    /// Counts the request in flight on `instance`, and no longer on the one tried before.
    pub(crate) fn on_instance(&mut self, instance: &Arc<Series>) {
        instance.start_request();
        if let Some(previous) = self.instance.replace(instance.clone()) {
            previous.end_request();
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.env.end_request();
        self.env.add_bytes(0, self.bytes_out);
        if let Some(instance) = &self.instance {
            instance.end_request();
            instance.add_bytes(0, self.bytes_out);
        }
        if let Some(queue) = &self.queue {
            queue.slot_freed();
        }
    }
}

/// A response body that counts its bytes and ends the request's flight when done.
pub(crate) struct MeteredBody<B> {
    inner: B,
    flight: Option<Flight>,
}

impl<B> MeteredBody<B> {
    pub(crate) fn new(inner: B, flight: Flight) -> Self {
        Self { inner, flight: Some(flight) }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for MeteredBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(flight)) = (frame.data_ref(), this.flight.as_mut()) {
                    flight.bytes_out += data.len() as u64;
                }
            }
            // The body is over: end the flight now rather than when hyper drops the body.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.flight = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn a_flight_ends_with_its_body_and_counts_bytes() {
        let (env, a, b) = (Arc::new(Series::default()), Arc::new(Series::default()), Arc::new(Series::default()));
        let mut flight = Flight::start(&env, None);
        flight.on_instance(&a);
        flight.on_instance(&b);
        assert_eq!((env.in_flight(), a.in_flight(), b.in_flight()), (1, 0, 1));
        let body = MeteredBody::new(Full::new(Bytes::from_static(b"hello")), flight);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"hello");
        assert_eq!((env.in_flight(), b.in_flight()), (0, 0));
    }
}
