//! How many terminal sessions may be open: per administrator and in total.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::TerminalError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionLimits {
    pub per_user: usize,
    pub total: usize,
    pub idle: Duration,
    /// Largest websocket message accepted, in bytes.
    pub max_message: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { per_user: 2, total: 8, idle: Duration::from_secs(15 * 60), max_message: 64 * 1024 }
    }
}

/// Counts open sessions; a permit frees its place when dropped, however the session ends.
#[derive(Debug, Clone, Default)]
pub struct SessionRegistry {
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

#[derive(Debug)]
pub struct SessionPermit {
    registry: SessionRegistry,
    user: i64,
}

impl SessionRegistry {
    pub fn acquire(&self, user: i64, limits: &SessionLimits) -> Result<SessionPermit, TerminalError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = open.values().sum();
        if total >= limits.total {
            return Err(TerminalError::Limit(format!("{total} terminal sessions are open, the most allowed at once")));
        }
        let mine = open.entry(user).or_insert(0);
        if *mine >= limits.per_user {
            return Err(TerminalError::Limit(format!(
                "you already have {mine} terminal sessions open (at most {})",
                limits.per_user
            )));
        }
        *mine += 1;
        Ok(SessionPermit { registry: self.clone(), user })
    }

    pub fn open_sessions(&self) -> usize {
        self.open.lock().map(|o| o.values().sum()).unwrap_or(0)
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        let mut open = self.registry.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_and_total_limits_hold_and_free_on_drop() {
        let limits = SessionLimits { per_user: 2, total: 3, ..Default::default() };
        let r = SessionRegistry::default();
        let a1 = r.acquire(1, &limits).unwrap();
        let _a2 = r.acquire(1, &limits).unwrap();
        assert!(r.acquire(1, &limits).unwrap_err().to_string().contains("at most 2"));
        let _b1 = r.acquire(2, &limits).unwrap();
        assert!(r.acquire(3, &limits).unwrap_err().to_string().contains("the most allowed"));
        drop(a1);
        assert_eq!(r.open_sessions(), 2);
        assert!(r.acquire(3, &limits).is_ok());
    }
}
