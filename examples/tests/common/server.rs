//! Starts the real `items` binaries on free ports and stops them again.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::http::{Request, send};

/// Which binary to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Actix,
}

/// A binary of this package to start (the items app, or a seed port).
pub fn start_binary_path(name: &str) -> &'static str {
    match name {
        "shared-users" => env!("CARGO_BIN_EXE_shared-users"),
        "registry-users" => env!("CARGO_BIN_EXE_registry-users"),
        "items-axum" => env!("CARGO_BIN_EXE_items-axum"),
        "items-actix" => env!("CARGO_BIN_EXE_items-actix"),
        "notes" => env!("CARGO_BIN_EXE_notes"),
        other => panic!("no binary {other}"),
    }
}

impl Framework {
    pub const ALL: [Framework; 2] = [Framework::Axum, Framework::Actix];

    pub fn binary(self) -> &'static str {
        match self {
            Framework::Axum => env!("CARGO_BIN_EXE_items-axum"),
            Framework::Actix => env!("CARGO_BIN_EXE_items-actix"),
        }
    }
}

/// A running app; killed when dropped.
pub struct Server {
    pub addr: String,
    child: Child,
    stderr_log: PathBuf,
}

impl Server {
    /// Starts `framework` with `env` (on top of a clean environment for the
    /// TENANCY_* variables) in `workdir`, and waits until it listens and
    /// answers `/health`.
    pub async fn start(framework: Framework, workdir: &Path, env: &[(String, String)]) -> Server {
        let server = Self::start_binary(framework.binary(), workdir, env).await;
        let health = send(&server.addr, &Request::get("/health").host("localhost")).await;
        assert_eq!(health.status, 200, "health check failed");
        server
    }

    /// Starts the binary at `binary`; see [`Server::start`].
    pub async fn start_binary(binary: &str, workdir: &Path, env: &[(String, String)]) -> Server {
        std::fs::create_dir_all(workdir).unwrap();
        let name = Path::new(binary)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let stderr_log = workdir.join(format!("{name}-{}.log", std::process::id()));
        let mut command = Command::new(binary);
        command
            .current_dir(workdir)
            .env("TENANCY_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).unwrap())
            .kill_on_drop(true);
        for (key, _) in std::env::vars() {
            if key.starts_with("TENANCY_")
                && key != "TENANCY_TEST_PG_URL"
                && key != "TENANCY_TEST_MYSQL_URL"
            {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.trim().to_owned();
                }
            }
            panic!(
                "the server exited before listening; log: {}",
                std::fs::read_to_string(&stderr_log).unwrap_or_default()
            )
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the server did not start within 60 s; log at {}",
                stderr_log.display()
            )
        });
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            addr,
            child,
            stderr_log,
        }
    }

    /// Sends one request on a new connection.
    pub async fn send(&self, request: &Request) -> super::http::Response {
        send(&self.addr, request).await
    }

    /// Stops the server with SIGTERM and waits for it to exit; returns how long it took.
    pub async fn stop(mut self) -> Duration {
        let started = std::time::Instant::now();
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the server did not exit within 20 s of SIGTERM")
            .unwrap();
        assert!(
            status.success() || status.code().is_none(),
            "exit status {status}; log: {}",
            self.log()
        );
        started.elapsed()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}
