//! [`Background`]: a registry's background task (a `LISTEN` connection, a
//! change log poller) with the counter it advances; it stops when dropped.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A spawned task and a counter it advances (connections made, polls done).
pub(crate) struct Background {
    task: Option<JoinHandle<()>>,
    count: watch::Receiver<u64>,
}

impl Background {
    /// Spawns `run`, handing it the counter's sending side.
    pub(crate) fn spawn<F>(run: impl FnOnce(watch::Sender<u64>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (sender, count) = watch::channel(0);
        Self {
            task: Some(tokio::spawn(run(sender))),
            count,
        }
    }

    /// The counter's value.
    pub(crate) fn count(&self) -> u64 {
        *self.count.borrow()
    }

    /// Waits until the counter reaches `count` (returns early if the task ended).
    pub(crate) async fn wait_for(&self, count: u64) {
        let mut counter = self.count.clone();
        let _ended = counter.wait_for(|reached| *reached >= count).await;
    }

    /// Whether the task has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
