//! The change log of a [`SqlRegistry`]: every mutation appends a row, and a
//! [`ChangePoller`] in each process reads the rows other processes wrote and
//! invalidates its caches — the `LISTEN/NOTIFY` of databases without one.
//! Registries sharing a database (tables of their own) may share the log:
//! each row names its registry by its tenants table.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use tenancy_core::TenantEvent;
use tokio::sync::watch;

use super::SqlRegistry;
use super::dialect::{ChangeRow, Dialect, Value, arguments};
use super::rows::now_micros;
use super::statements::CHANGES_PER_POLL;
use crate::registry::background::Background;
use crate::registry::payload;

/// How long a missing sequence number is looked for again: a row whose
/// insert got its number before another's but committed after it (MySQL
/// hands out auto-increment values before commit) shows up late.
const GAP_WAIT: Duration = Duration::from_secs(5);
/// The most missing sequence numbers followed at once; beyond, newer ones
/// are not followed (their rows, if any, are at worst seen by the TTL).
const MAX_GAPS: usize = 1_000;
/// How often a poller deletes rows older than the retention.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

impl<D: Dialect> SqlRegistry<D> {
    /// Appends `events` to the change log, as one row, on `conn` (the
    /// mutation's own transaction: the row commits with the change, or
    /// neither does).
    pub(crate) async fn record_change_on(
        &self,
        conn: &mut D::Connection,
        events: &[TenantEvent],
    ) -> Result<(), sqlx::Error> {
        let encoded = payload::encode(&self.inner.origin, events);
        // The origin is its own column: the payload column holds the events.
        let events_only = encoded
            .split_once(' ')
            .map_or("*", |(_origin, events)| events);
        let args = arguments::<D>(&[
            Value::Str(self.inner.tables.tenants.as_str()),
            Value::Str(&self.inner.origin),
            Value::Str(events_only),
            Value::Int(now_micros()),
        ])?;
        D::execute(conn, self.inner.sql.record_change.clone(), args).await?;
        Ok(())
    }

    /// Appends `events` to the change log on a pooled connection.
    pub(crate) async fn record_change(&self, events: &[TenantEvent]) -> Result<(), sqlx::Error> {
        let mut conn = self.inner.pool.acquire().await?;
        self.record_change_on(&mut conn, events).await
    }

    /// Runs the single-statement mutation `sql` in a write transaction
    /// together with its change log row (when it changed a row), then tells
    /// this process's subscribers; returns how many rows it changed.
    pub(crate) async fn write_logged(
        &self,
        sql: &sqlx::SqlStr,
        values: &[Value<'_>],
        events: &[TenantEvent],
    ) -> Result<u64, sqlx::Error> {
        let mut tx = D::begin(&self.inner.pool, true).await?;
        let args = arguments::<D>(values)?;
        let done = D::execute(&mut tx, sql.clone(), args).await?;
        let changed = D::rows_affected(&done);
        if changed > 0 {
            self.record_change_on(&mut tx, events).await?;
        }
        tx.commit().await?;
        if changed > 0 {
            self.publish(events).await;
        }
        Ok(changed)
    }

    /// The highest sequence number in the change log (0 when empty).
    async fn last_change(&self) -> Result<i64, sqlx::Error> {
        let mut conn = self.inner.pool.acquire().await?;
        let row = D::fetch_optional(
            &mut conn,
            self.inner.sql.last_change.clone(),
            D::Arguments::default(),
        )
        .await?;
        row.as_ref().map_or(Ok(0), D::integer)
    }

    /// The change log rows after `after`, every registry's (the log may be
    /// shared: another registry's rows are not gaps in this one's).
    async fn changes_since(&self, after: i64) -> Result<Vec<ChangeRow>, sqlx::Error> {
        let args = arguments::<D>(&[Value::Int(after)])?;
        let mut conn = self.inner.pool.acquire().await?;
        let rows = D::fetch_all(&mut conn, self.inner.sql.changes_since.clone(), args).await?;
        rows.iter().map(D::change_row).collect()
    }

    /// Deletes this registry's change log rows older than the retention.
    async fn prune_changes(&self) -> Result<u64, sqlx::Error> {
        let retention =
            i64::try_from(self.inner.config.retention().as_micros()).unwrap_or(i64::MAX);
        let before = now_micros().saturating_sub(retention);
        self.execute(
            &self.inner.sql.prune_changes,
            &[
                Value::Str(self.inner.tables.tenants.as_str()),
                Value::Int(before),
            ],
        )
        .await
    }
}

/// A background task that reads a [`SqlRegistry`]'s change log and passes
/// other processes' changes to this registry's subscribers.
///
/// It starts at the end of the log (earlier changes are already in the
/// caches' view, since they are read from the registry), reads new rows every
/// [`RegistryConfig::poll_interval`](crate::RegistryConfig::poll_interval)
/// (250 ms by default), skips this registry's own rows, and deletes rows
/// older than the retention now and then. While the database cannot be
/// read it retries at the same pace; if it could not read for longer than
/// the retention, rows may have been deleted unseen, so it invalidates
/// everything. It stops when dropped or [`stop`](Self::stop)ped, or when the
/// registry's pool is closed.
///
/// ```no_run
/// # async fn example<D: tenancy_sqlx::registry::Dialect>(registry: tenancy_sqlx::registry::SqlRegistry<D>) {
/// let poller = registry.poll_changes();
/// poller.wait_polls(1).await; // the first read of the log is done
/// assert!(poller.polls() >= 1);
/// # }
/// ```
#[must_use = "the poller stops when dropped"]
pub struct ChangePoller {
    task: Background,
}

impl ChangePoller {
    pub(super) fn spawn<D: Dialect>(registry: SqlRegistry<D>) -> Self {
        Self {
            task: Background::spawn(|polls| run(registry, polls)),
        }
    }

    /// How many times the change log has been read successfully.
    pub fn polls(&self) -> u64 {
        self.task.count()
    }

    /// Waits until the change log has been read at least `count` times
    /// (returns early if the task ended).
    pub async fn wait_polls(&self, count: u64) {
        self.task.wait_for(count).await;
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops polling (as dropping it does).
    pub fn stop(self) {
        drop(self.task);
    }
}

impl fmt::Debug for ChangePoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangePoller")
            .field("polls", &self.polls())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Where a poller is in the change log.
#[derive(Debug, Default)]
struct Cursor {
    /// The highest sequence number seen.
    last: i64,
    /// Numbers below `last` not seen yet, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

impl Cursor {
    /// Where the next read starts: before the oldest gap still awaited.
    fn read_after(&self) -> i64 {
        self.gaps
            .keys()
            .next()
            .map_or(self.last, |oldest| oldest.saturating_sub(1).min(self.last))
    }

    /// Takes in the rows of one read (in sequence order); returns those not
    /// seen before: rows past `last`, and rows filling a gap.
    fn advance<T>(&mut self, rows: Vec<(i64, T)>, now: Instant) -> Vec<T> {
        let mut fresh = Vec::new();
        for (seq, row) in rows {
            if seq <= self.last {
                if self.gaps.remove(&seq).is_none() {
                    continue;
                }
            } else {
                for missing in self.last.saturating_add(1)..seq {
                    if self.gaps.len() >= MAX_GAPS {
                        break;
                    }
                    self.gaps.insert(missing, now);
                }
                self.last = seq;
            }
            fresh.push(row);
        }
        self.gaps
            .retain(|_, missed| now.duration_since(*missed) < GAP_WAIT);
        fresh
    }
}

async fn run<D: Dialect>(registry: SqlRegistry<D>, polls: watch::Sender<u64>) {
    let interval = registry.inner.config.polling();
    let retention = registry.inner.config.retention();
    let mut cursor = Cursor::default();
    let mut started = false;
    let mut last_read = Instant::now();
    let mut last_prune: Option<Instant> = None;
    let mut done = 0_u64;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !registry.pool().is_closed() {
        ticker.tick().await;
        if !started {
            match registry.last_change().await {
                Ok(last) => {
                    cursor.last = last;
                    started = true;
                }
                Err(error) => {
                    tracing::warn!(%error, "tenancy registry: cannot read the change log; retrying");
                    continue;
                }
            }
        }
        let now = Instant::now();
        if !read_all(&registry, &mut cursor, now).await {
            continue;
        }
        if now.duration_since(last_read) > retention {
            // Rows may have been pruned unseen while the log was unreadable.
            registry.publish(&[TenantEvent::Unknown]).await;
        }
        last_read = now;
        done += 1;
        polls.send_replace(done);
        if last_prune.is_none_or(|at| now.duration_since(at) >= PRUNE_EVERY) {
            last_prune = Some(now);
            if let Err(error) = registry.prune_changes().await {
                tracing::debug!(%error, "tenancy registry: pruning the change log failed");
            }
        }
    }
}

/// Reads the log from the cursor to its end, a page at a time, publishing
/// other processes' changes; `false` if a read failed (the rows read before
/// it are published, and the cursor is past them).
async fn read_all<D: Dialect>(
    registry: &SqlRegistry<D>,
    cursor: &mut Cursor,
    now: Instant,
) -> bool {
    let mut after = cursor.read_after();
    loop {
        let rows = match registry.changes_since(after).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "tenancy registry: cannot read the change log; retrying");
                return false;
            }
        };
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= CHANGES_PER_POLL;
        after = rows.last().map_or(after, |(seq, ..)| *seq);
        let rows = rows
            .into_iter()
            .map(|(seq, owner, origin, events)| (seq, (owner, origin, events)))
            .collect();
        for (owner, origin, events) in cursor.advance(rows, now) {
            let ours = owner == registry.inner.tables.tenants.as_str();
            if ours && origin != registry.inner.origin {
                let (_origin, events) = payload::decode(&format!("{origin} {events}"));
                registry.publish(&events).await;
            }
        }
        if !full {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> (i64, String) {
        (seq, format!("updated:t{seq}"))
    }

    #[test]
    fn reads_in_order_and_skips_what_it_saw() {
        let now = Instant::now();
        let mut cursor = Cursor::default();
        assert_eq!(cursor.advance(vec![row(1), row(2)], now).len(), 2);
        assert_eq!(cursor.read_after(), 2);
        assert_eq!(cursor.advance(vec![row(3)], now).len(), 1);
        assert!(cursor.gaps.is_empty());
    }

    #[test]
    fn a_late_row_is_read_once() {
        let now = Instant::now();
        let mut cursor = Cursor::default();
        assert_eq!(cursor.advance(vec![row(1), row(3)], now).len(), 2);
        // 2 is missing: the next read starts before it.
        assert_eq!(cursor.read_after(), 1);
        let fresh = cursor.advance(vec![row(2), row(3)], now);
        assert_eq!(fresh, vec!["updated:t2".to_owned()]);
        assert_eq!(cursor.read_after(), 3);
        // Seen again (a later read overlapping it): skipped.
        assert!(cursor.advance(vec![row(2)], now).is_empty());
    }

    #[test]
    fn gaps_are_given_up_after_a_while() {
        let now = Instant::now();
        let mut cursor = Cursor::default();
        let _fresh = cursor.advance(vec![row(1), row(5)], now);
        assert_eq!(cursor.read_after(), 1);
        let later = now + GAP_WAIT + Duration::from_millis(1);
        assert!(
            cursor
                .advance(Vec::<(i64, String)>::new(), later)
                .is_empty()
        );
        assert_eq!(cursor.read_after(), 5);
    }

    #[test]
    fn a_huge_jump_keeps_a_bounded_set_of_gaps() {
        let now = Instant::now();
        let mut cursor = Cursor::default();
        let _fresh = cursor.advance(vec![row(i64::MAX)], now);
        assert_eq!(cursor.gaps.len(), MAX_GAPS);
        assert_eq!(cursor.last, i64::MAX);
    }
}
