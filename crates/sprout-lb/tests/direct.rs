//! The direct path to instances (requests without a body): response framing as RFC 9112 says,
//! connections kept only after clean answers, and broken instances answered with 502 or a cut
//! response, never a hang or a mixed-up answer for the next request.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Lb, client, route, send};
use http::Request;
use http_body_util::{BodyExt, Full};
use sprout_lb::{LbConfig, RoutingTable, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted instance answers for a path, and whether it hangs up afterwards.
fn script(path: &str) -> (&'static [u8], bool) {
    match path {
        "/chunked" => (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            false,
        ),
        "/nocontent" => (b"HTTP/1.1 204 No Content\r\n\r\n", false),
        "/length" => (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour", false),
        "/untilclose" => (b"HTTP/1.1 200 OK\r\n\r\nread until close", true),
        "/garbage" => (b"SPLAT\r\n\r\n", true),
        "/short" => (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true),
        _ => (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false),
    }
}

async fn serve_script(mut stream: TcpStream) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
        pending.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        let (answer, hang_up) = script(&path);
        // A HEAD answer has no body, whatever its Content-Length says.
        let answer =
            if head.starts_with("HEAD ") { &b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"[..] } else { answer };
        if stream.write_all(answer).await.is_err() || hang_up {
            return;
        }
    }
}

async fn scripted_instance() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_script(stream));
        }
    });
    (addr, accepted)
}

async fn lb_for(addr: SocketAddr) -> Lb {
    let mut table = RoutingTable::empty();
    let upstream = Upstream { instance: "i-script".into(), addr };
    table.insert("script.example", route("app", "prod", vec![upstream]));
    Lb::start(LbConfig::default(), table).await
}

#[tokio::test]
async fn well_framed_answers_arrive_whole_and_keep_the_connection() {
    let (addr, accepted) = scripted_instance().await;
    let lb = lb_for(addr).await;
    let client = client();
    for _ in 0..3 {
        let answer = send(&client, lb.addr, "script.example", "/chunked").await.unwrap();
        assert_eq!((answer.status.as_u16(), answer.body.as_str()), (200, "hello world"));
        let answer = send(&client, lb.addr, "script.example", "/nocontent").await.unwrap();
        assert_eq!(answer.status, 204);
        let answer = send(&client, lb.addr, "script.example", "/length").await.unwrap();
        assert_eq!(answer.body, "four");
        let head = Request::head(format!("http://{}/length", lb.addr))
            .header("host", "script.example")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = client.request(head).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.into_body().collect().await.unwrap().to_bytes().is_empty());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "12 answers on one kept-alive connection");
}

#[tokio::test]
async fn broken_instances_get_502_or_a_cut_answer_and_nothing_leaks_into_the_next() {
    let (addr, _) = scripted_instance().await;
    let lb = lb_for(addr).await;
    let client = client();

    let answer = send(&client, lb.addr, "script.example", "/untilclose").await.unwrap();
    assert_eq!(answer.body, "read until close");

    let answer = send(&client, lb.addr, "script.example", "/garbage").await.unwrap();
    assert_eq!(answer.status, 502, "{}", answer.body);

    // A body cut short by the instance cannot be completed: the client sees an error or fewer
    // bytes than announced, never a hang.
    let cut = tokio::time::timeout(Duration::from_secs(5), send(&client, lb.addr, "script.example", "/short"))
        .await
        .expect("a cut answer ends");
    if let Ok(answer) = cut {
        assert!(answer.body.len() < 100, "{}", answer.body);
    }

    // The next requests get their own answers.
    let answer = send(&client, lb.addr, "script.example", "/length").await.unwrap();
    assert_eq!(answer.body, "four");
    let answer = send(&client, lb.addr, "script.example", "/chunked").await.unwrap();
    assert_eq!(answer.body, "hello world");
}
