//! TCP proxies on a fresh local port, stopped when dropped:
//! [`DelayProxy`], a slow server (new connections wait while it is switched
//! on), [`HoldProxy`], which holds the server's replies while switched on,
//! and [`RoundTrips`], which counts a Postgres client's round trips.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// An accept loop on `127.0.0.1:<port>`, aborted when dropped. `on_accept`
/// runs in the loop for each client and returns the task that serves it.
struct AcceptLoop {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl AcceptLoop {
    async fn start<F, Fut>(mut on_accept: F) -> Self
    where
        F: FnMut(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(on_accept(client));
            }
        });
        Self { port, task }
    }
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy that, while switched on, holds every new connection for a while
/// before connecting it upstream: a slow database server.
pub struct DelayProxy {
    pub port: u16,
    slow: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    _accept: AcceptLoop,
}

impl DelayProxy {
    /// A proxy to `host:port`; new connections wait `delay` while it is slow.
    pub async fn start(host: &str, port: u16, delay: Duration) -> Self {
        let target = format!("{host}:{port}");
        let slow = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let (is_slow, count) = (slow.clone(), accepted.clone());
        let accept = AcceptLoop::start(move |mut client| {
            count.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            let wait = is_slow.load(Ordering::SeqCst);
            async move {
                if wait {
                    tokio::time::sleep(delay).await;
                }
                if let Ok(mut server) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            }
        })
        .await;
        Self {
            port: accept.port,
            slow,
            accepted,
            _accept: accept,
        }
    }

    pub fn set_slow(&self, slow: bool) {
        self.slow.store(slow, Ordering::SeqCst);
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A proxy that, while holding, keeps back everything the server sends (the
/// client's messages still reach the server), and delivers it on release:
/// a reply that is late at a moment the test chooses.
pub struct HoldProxy {
    pub port: u16,
    hold: Arc<tokio::sync::watch::Sender<bool>>,
    _accept: AcceptLoop,
}

impl HoldProxy {
    /// A proxy to `host:port`.
    pub async fn start(host: &str, port: u16) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let target = format!("{host}:{port}");
        let hold = Arc::new(tokio::sync::watch::channel(false).0);
        let holder = hold.clone();
        let accept = AcceptLoop::start(move |client| {
            let target = target.clone();
            let mut held = holder.subscribe();
            async move {
                let Ok(server) = TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let upstream = async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                };
                let downstream = async move {
                    let mut buffer = vec![0_u8; 64 * 1024];
                    loop {
                        let read = match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => read,
                        };
                        // Wait while held; the bytes are delivered afterwards.
                        if held.wait_for(|holding| !*holding).await.is_err() {
                            break;
                        }
                        let chunk = buffer.get(..read).unwrap_or_default();
                        if client_write.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(upstream, downstream);
            }
        })
        .await;
        Self {
            port: accept.port,
            hold,
            _accept: accept,
        }
    }

    /// Starts or stops holding the server's replies.
    pub fn set_hold(&self, hold: bool) {
        self.hold.send_replace(hold);
    }
}

#[cfg(feature = "postgres")]
pub use round_trips::RoundTrips;

/// Every `Query` ('Q') or `Sync` ('S') message makes the client wait for a
/// `ReadyForQuery`, so their number is the number of round trips.
#[cfg(feature = "postgres")]
#[allow(clippy::indexing_slicing)] // the parser checks lengths first
mod round_trips {
    use super::*;

    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Counts round trips of every connection made through it.
    pub struct RoundTrips {
        count: Arc<AtomicU64>,
        pub options: PgConnectOptions,
        _accept: AcceptLoop,
    }

    impl RoundTrips {
        /// A proxy to the server of `upstream`; `options` connect through it.
        pub async fn start(upstream: &PgConnectOptions) -> Self {
            let target = format!("{}:{}", upstream.get_host(), upstream.get_port());
            let count = Arc::new(AtomicU64::new(0));
            let counter = count.clone();
            let accept = AcceptLoop::start(move |client| {
                let target = target.clone();
                let counter = counter.clone();
                async move {
                    let server = TcpStream::connect(&target).await.unwrap();
                    pump(client, server, counter).await;
                }
            })
            .await;
            let options = upstream
                .clone()
                .host("127.0.0.1")
                .port(accept.port)
                .ssl_mode(PgSslMode::Disable);
            Self {
                count,
                options,
                _accept: accept,
            }
        }

        /// Round trips so far.
        pub fn get(&self) -> u64 {
            self.count.load(Ordering::SeqCst)
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
}
