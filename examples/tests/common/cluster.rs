//! Throw-away database servers a test owns outright, so that it can stop and
//! start them (a database outage) without touching the shared servers on
//! 5432, 5433 and 3306.
//!
//! [`PgCluster`]: a PostgreSQL cluster made with `initdb` and run with
//! `pg_ctl` from the local installation (`/usr/lib/postgresql/<highest>/bin`,
//! or `TENANCY_PG_BIN`), as the `postgres` OS user when the tests run as root
//! (`initdb` and `pg_ctl` refuse root), like the second cluster of
//! `scripts/test.sh`. [`MariaDbServer`]: a MariaDB server made with
//! `mariadb-install-db` and run as a child `mariadbd` (as the `mysql` OS user
//! when the tests run as root). Both listen on
//! 127.0.0.1 on a free port, keep their data under `/tmp`, accept the
//! superuser without a password, and are removed on drop. A missing program
//! is a panic naming the package to install, never a skip.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::process::Command;

/// A port nobody listens on now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh, empty directory under `/tmp`, unique to this process and call.
fn fresh_dir(kind: &str, port: u16) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = PathBuf::from(format!(
        "/tmp/tenancy-{kind}-{}-{port}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn is_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `program args…`, as the OS user `user` when running as root.
fn as_owner(user: &str, program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", user, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Gives `dir` to the OS user `user` when running as root.
fn chown(user: &str, dir: &Path) {
    if is_root() {
        let status = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown {user} {}", dir.display());
    }
}

/// Runs `command`, panicking with its output (and `log`, if any) on failure.
async fn run(what: &str, command: &mut Command, log: Option<&Path>) {
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        command.stdin(Stdio::null()).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{what} did not finish within 120 s"))
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        log.map(|log| std::fs::read_to_string(log).unwrap_or_default())
            .unwrap_or_default()
    );
}

/// The directory of the highest installed PostgreSQL's programs.
fn pg_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("TENANCY_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin: install the \
             'postgresql' package (or set TENANCY_PG_BIN)"
        )
    })
}

/// A throw-away PostgreSQL cluster (trust auth, user `postgres`, fsync off),
/// running until [`stop`](Self::stop)ped or dropped; its data directory is
/// removed on drop.
pub struct PgCluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
}

impl PgCluster {
    /// Creates a cluster on a free port and starts it.
    pub async fn start_new() -> PgCluster {
        let bin = pg_bin();
        let port = free_port();
        let data = fresh_dir("outage-pg", port);
        chown("postgres", &data);
        let log = data.join("server.log");
        // Built first, so that its drop removes the directory if initdb fails.
        let cluster = PgCluster {
            port,
            bin,
            data,
            log,
        };
        run(
            "initdb",
            as_owner("postgres", &cluster.bin.join("initdb"))
                .arg("-D")
                .arg(&cluster.data)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            None,
        )
        .await;
        cluster.start().await;
        cluster
    }

    /// `postgres://postgres@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=100 -c shared_buffers=16MB",
            self.port,
            self.data.display()
        );
        run(
            "pg_ctl start",
            as_owner("postgres", &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&self.log)
                .args(["-w", "-t", "60", "-o", &options, "start"]),
            Some(&self.log),
        )
        .await;
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended) and
    /// waits until it is down.
    pub async fn stop(&self) {
        run(
            "pg_ctl stop",
            as_owner("postgres", &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "-t", "60", "stop"]),
            Some(&self.log),
        )
        .await;
    }

    /// Creates the database `name`.
    pub async fn create_database(&self, name: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut stop = if is_root() {
            let mut command = std::process::Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            command
        } else {
            std::process::Command::new(self.bin.join("pg_ctl"))
        };
        let _ = stop
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A program of the MariaDB server package.
fn mariadb_program(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = Path::new(dir).join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "{} not found: install the 'mariadb-server' package",
        names.join(" / ")
    )
}

/// `--user=mysql` when running as root (mariadbd refuses root otherwise).
fn mysql_user() -> Vec<&'static str> {
    if is_root() {
        vec!["--user=mysql"]
    } else {
        vec![]
    }
}

/// A throw-away MariaDB server (`root` without password from 127.0.0.1),
/// running as a child process until [`stop`](Self::stop)ped or dropped;
/// its data directory is removed on drop.
pub struct MariaDbServer {
    pub port: u16,
    server: PathBuf,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl MariaDbServer {
    /// Creates a server on a free port and starts it.
    pub async fn start_new() -> MariaDbServer {
        let install = mariadb_program(&["mariadb-install-db", "mysql_install_db"]);
        let server = mariadb_program(&["mariadbd", "mysqld"]);
        let port = free_port();
        let dir = fresh_dir("outage-mariadb", port);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        // A temporary directory of its own: servers bootstrapping side by side
        // in the shared /tmp collide on their temporary tables.
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        chown("mysql", &dir);
        // Built first, so that its drop removes the directory if the
        // installation fails.
        let mut mariadb = MariaDbServer {
            port,
            server,
            dir,
            child: None,
        };
        run(
            "mariadb-install-db",
            Command::new(&install)
                .arg("--no-defaults")
                .args(mysql_user())
                .arg(format!("--datadir={}", mariadb.dir.join("data").display()))
                .arg(format!("--tmpdir={}", mariadb.dir.join("tmp").display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ]),
            None,
        )
        .await;
        mariadb.start().await;
        mariadb
    }

    /// `mysql://root@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = self.dir.join("server.log");
        let child = Command::new(&self.server)
            .arg("--no-defaults")
            .args(mysql_user())
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--tmpdir={}", self.dir.join("tmp").display()))
            .arg(format!(
                "--socket={}",
                self.dir.join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.join("mysqld.pid").display()
            ))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--performance-schema=OFF",
                "--max-connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.server.display()));
        self.child = Some(child);
        let url = self.url("");
        let started = std::time::Instant::now();
        loop {
            use sqlx::Connection;
            if let Ok(conn) = sqlx::MySqlConnection::connect(&url).await {
                let _ = conn.close().await;
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "mariadbd exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mariadbd did not accept connections within 60 s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGTERM: a normal shutdown) and waits until it exited.
    pub async fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("mariadbd did not exit within 60 s of SIGTERM")
            .unwrap();
    }

    /// Creates the database `name`.
    pub async fn create_database(&self, name: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::MySqlConnection::connect(&self.url("")).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reaped before its files go.
            for _ in 0..100 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
