//! The execution slots (a slot is a set of cores and GPUs the executor runs one script on). The free
//! slot ids are the only count: they wait in a channel, a worker takes one, and it goes back when the
//! worker's [`Slot`] is dropped, on every path out of an execution. Workers wait in the order they
//! asked.

use tokio::sync::{mpsc, Mutex};

use crate::error::{Error, Result};

pub(crate) struct SlotPool {
    free: Mutex<mpsc::UnboundedReceiver<usize>>,
    returns: mpsc::UnboundedSender<usize>,
}

/// A slot taken from the pool; dropping it gives it back.
pub(crate) struct Slot<'pool> {
    pub id: usize,
    returns: &'pool mpsc::UnboundedSender<usize>,
}

impl SlotPool {
    /// A pool of slots `0..count`, handed out lowest first.
    pub fn new(count: usize) -> SlotPool {
        let (returns, free) = mpsc::unbounded_channel();
        for slot in 0..count {
            // The receiver is alive: it is in the pool being built.
            let _ = returns.send(slot);
        }
        SlotPool {
            free: Mutex::new(free),
            returns,
        }
    }

    /// Waits for a free slot. Cancel-safe: a worker that stops waiting takes no slot with it.
    pub async fn acquire(&self) -> Result<Slot<'_>> {
        let mut free = self.free.lock().await;
        // The pool keeps a sender, so the channel never closes while the pool exists.
        let id = free.recv().await.ok_or(Error::SlotPoolClosed)?;
        Ok(Slot {
            id,
            returns: &self.returns,
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // The pool owns the receiver and outlives every slot it lends.
        let _ = self.returns.send(self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_dropped_slot_is_handed_to_the_next_worker_and_no_slot_is_lent_twice() {
        let pool = SlotPool::new(2);
        let first = pool.acquire().await.unwrap();
        let second = pool.acquire().await.unwrap();
        assert_ne!(first.id, second.id);
        let waiting = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(waiting.is_err(), "a third slot was lent from a pool of two");
        let freed = second.id;
        drop(second);
        assert_eq!(pool.acquire().await.unwrap().id, freed);
    }

    #[tokio::test]
    async fn a_worker_that_stops_waiting_takes_no_slot_with_it() {
        let pool = SlotPool::new(1);
        let only = pool.acquire().await.unwrap();
        {
            let waiting = pool.acquire();
            tokio::pin!(waiting);
            let gave_up = tokio::time::timeout(Duration::from_millis(20), &mut waiting).await;
            assert!(gave_up.is_err(), "a slot was lent twice");
            // The slot comes back while the waiter is still queued, and the waiter is dropped unpolled.
            drop(only);
        }
        let next = tokio::time::timeout(Duration::from_secs(5), pool.acquire()).await;
        assert_eq!(next.expect("the slot was lost").unwrap().id, 0);
    }
}
