//! A tiny HTTP/1.1 client over raw TCP, so that tests can send exactly the
//! bytes they mean — duplicate `Host` headers, non-UTF-8 header values, huge
//! bodies — which ordinary clients refuse to produce.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON (panics with the body in the message if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "status {}: body is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` field of a JSON error body.
    pub fn error_kind(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field in {:?}", self.json()))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A request, built as raw bytes.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    pub fn delete(target: &str) -> Self {
        Self::new("DELETE", target)
    }

    /// Adds a header (repeat the call to send it twice).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    pub fn host(self, host: &str) -> Self {
        self.header("Host", host)
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(value).unwrap();
        self.header("Content-Type", "application/json")
    }

    pub fn raw_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("Content-Type", content_type)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() || self.method == "POST" {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A keep-alive connection to one server.
pub struct Connection {
    addr: String,
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Connection {
    pub async fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        let (read, write) = stream.into_split();
        Self {
            addr: addr.to_owned(),
            read: BufReader::new(read),
            write,
        }
    }

    /// Sends a request and reads the response; fails if the server drops the
    /// connection without a complete response. The body is written while the
    /// response is read, so a server may answer (e.g. 413) before reading it.
    pub async fn send(&mut self, request: &Request) -> Response {
        let response = tokio::time::timeout(Duration::from_secs(30), self.exchange(request))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no response within 30 s to {} {}",
                    request.method, request.target
                )
            })
            .unwrap_or_else(|e| {
                panic!(
                    "connection failed on {} {}: {e}",
                    request.method, request.target
                )
            });
        if response
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
        {
            // The server ends this connection after the response (allowed, e.g.
            // after refusing an unread body): continue on a new one.
            *self = Connection::open(&self.addr).await;
        }
        response
    }

    async fn exchange(&mut self, request: &Request) -> std::io::Result<Response> {
        let bytes = request.to_bytes();
        let head_only = request.method == "HEAD";
        let (written, response) = tokio::join!(
            self.write.write_all(&bytes),
            read_response(&mut self.read, head_only)
        );
        match (written, response) {
            (_, Ok(response)) => Ok(response),
            (Err(write_error), Err(_)) => Err(write_error),
            (Ok(()), Err(read_error)) => Err(read_error),
        }
    }
}

/// Sends one request on a fresh connection.
pub async fn send(addr: &str, request: &Request) -> Response {
    Connection::open(addr).await.send(request).await
}

async fn read_response(
    stream: &mut BufReader<OwnedReadHalf>,
    head_only: bool,
) -> std::io::Result<Response> {
    let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed");
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(eof());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(eof());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(std::io::Error::other)?;
        body.resize(length, 0);
        stream.read_exact(&mut body).await?;
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            chunk.truncate(size);
            body.extend_from_slice(&chunk);
        }
    } else {
        stream.read_to_end(&mut body).await?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}
