//! A TCP proxy in front of Postgres that counts the client's round trips:
//! every `Query` ('Q') or `Sync` ('S') message makes the client wait for a
//! `ReadyForQuery`, so their number is the number of round trips.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts round trips of every connection made through it.
pub struct RoundTrips {
    count: Arc<AtomicU64>,
    pub options: PgConnectOptions,
    task: tokio::task::JoinHandle<()>,
}

impl RoundTrips {
    /// A proxy to the server of `upstream`; `options` connect through it.
    pub async fn start(upstream: &PgConnectOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = format!("{}:{}", upstream.get_host(), upstream.get_port());
        let count = Arc::new(AtomicU64::new(0));
        let counter = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&target).await.unwrap();
                tokio::spawn(pump(client, server, counter.clone()));
            }
        });
        let options = upstream
            .clone()
            .host("127.0.0.1")
            .port(port)
            .ssl_mode(PgSslMode::Disable);
        Self {
            count,
            options,
            task,
        }
    }

    /// Round trips so far.
    pub fn get(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for RoundTrips {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(client: TcpStream, server: TcpStream, count: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut parser = Parser::default();
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            count.fetch_add(parser.feed(chunk), Ordering::SeqCst);
            if server_write.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// Splits the frontend stream into messages and counts 'Q' and 'S'.
#[derive(Default)]
struct Parser {
    started: bool,
    pending: Vec<u8>,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        self.pending.extend_from_slice(bytes);
        let mut counted = 0;
        loop {
            if !self.started {
                // Untyped: SSLRequest / GSSENCRequest / StartupMessage.
                if self.pending.len() < 8 {
                    return counted;
                }
                let len = u32::from_be_bytes(self.pending[0..4].try_into().unwrap()) as usize;
                if self.pending.len() < len {
                    return counted;
                }
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                if code != 80_877_103 && code != 80_877_104 {
                    self.started = true;
                }
                self.pending.drain(..len);
            } else {
                if self.pending.len() < 5 {
                    return counted;
                }
                let kind = self.pending[0];
                let len = u32::from_be_bytes(self.pending[1..5].try_into().unwrap()) as usize;
                if self.pending.len() < len + 1 {
                    return counted;
                }
                if kind == b'Q' || kind == b'S' {
                    counted += 1;
                }
                self.pending.drain(..len + 1);
            }
        }
    }
}
