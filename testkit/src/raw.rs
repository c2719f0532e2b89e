//! Requests written by hand on a TCP connection to a served test app, for
//! what the in-process clients cannot do: a body that arrives slowly.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked), as text.
    pub body: String,
}

/// How far a group of [`trickle`]d uploads has got.
#[derive(Debug, Default)]
pub struct Progress {
    bytes: AtomicUsize,
    bodies: AtomicUsize,
}

impl Progress {
    /// Body bytes written so far, by all uploads together.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Uploads whose body is completely written.
    pub fn bodies(&self) -> usize {
        self.bodies.load(Ordering::SeqCst)
    }
}

/// `POST path` on `host` with a JSON `body`: the head (with its
/// `Content-Length`) at once, then the body one byte every `pause`.
pub async fn trickle(
    addr: SocketAddr,
    path: &str,
    host: &str,
    body: &[u8],
    pause: Duration,
    progress: &Progress,
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for byte in body {
        tokio::time::sleep(pause).await;
        stream.write_all(&[*byte]).await.unwrap();
        progress.bytes.fetch_add(1, Ordering::SeqCst);
    }
    progress.bodies.fetch_add(1, Ordering::SeqCst);
    read_response(stream).await
}

/// `GET path` on `host`, without a body.
pub async fn get(addr: SocketAddr, path: &str, host: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(stream).await
}

/// Reads a response to the end of the connection (`Connection: close`).
async fn read_response(mut stream: TcpStream) -> RawResponse {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    RawResponse { status, body }
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut payload = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        payload.push_str(rest.get(..size).unwrap());
        body = rest.get(size + 2..).unwrap_or_default();
    }
    payload
}
