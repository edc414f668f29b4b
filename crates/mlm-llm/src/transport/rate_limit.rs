//! The shared rate limit: request starts spaced at least 60/rpm seconds apart, across all clones of a
//! client.

use std::time::Duration;

use tokio::time::Instant;

/// Spaces request starts at least `interval` apart. The lock is held while waiting, so waiters are
/// served in order (tokio's mutex is fair) without busy waiting.
pub(crate) struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub(crate) fn per_minute(requests: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs(60) / requests.max(1),
            next: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn acquire(&self) {
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.interval);
    }
}
