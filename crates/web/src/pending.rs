//! The budget for connections that have not yet said who they are.
//!
//! A connection is cheap to open and free to hold: one client holding
//! thousands of sockets that never send a request head (slowloris) used to
//! take every connection slot of a listener, so signed calls and `/healthz`
//! could not get in (issue 27, item 9). Connections still waiting for their
//! first request (or, on AudioSocket, their UUID frame) therefore have their
//! own budget, apart from the connections that are serving, and each source
//! address may hold only part of it: one host that misbehaves cannot crowd
//! out another, and a platform's many calls from one address pass through
//! the waiting state in milliseconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Waiting connections, at most `total` at once and `per_source` from any
/// one address. Shared by one listener's accept loop and its connections.
#[derive(Debug)]
pub struct PendingBudget {
    total: Arc<Semaphore>,
    capacity: usize,
    per_source: usize,
    // Locked once when a connection is accepted and once when it stops
    // waiting: never on the audio path.
    by_source: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused a place among the waiting ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingRefusal {
    /// The listener's whole budget is taken.
    Full {
        /// The budget.
        total: usize,
    },
    /// This address already holds its share.
    SourceFull {
        /// The share per address.
        per_source: usize,
    },
}

impl std::fmt::Display for PendingRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full { total } => write!(f, "{total} connections are already waiting to start"),
            Self::SourceFull { per_source } => write!(
                f,
                "this address already has {per_source} connections waiting to start"
            ),
        }
    }
}

impl PendingBudget {
    /// At most `total` waiting connections, `per_source` of them from one
    /// address (both at least 1).
    pub fn new(total: usize, per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(total.max(1))),
            capacity: total.max(1),
            per_source: per_source.max(1),
            by_source: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one connection from `source`, held until the returned
    /// slot is dropped (when the connection has said who it is, or closes).
    pub fn try_take(self: &Arc<Self>, source: IpAddr) -> Result<PendingSlot, PendingRefusal> {
        let mut by = self
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = by.get(&source).copied().unwrap_or(0);
        if n >= self.per_source {
            return Err(PendingRefusal::SourceFull {
                per_source: self.per_source,
            });
        }
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| PendingRefusal::Full {
                total: self.capacity,
            })?;
        by.insert(source, n + 1);
        Ok(PendingSlot {
            budget: self.clone(),
            source,
            _permit: permit,
        })
    }

    /// Addresses holding a waiting connection now (for tests and metrics).
    pub fn sources(&self) -> usize {
        self.by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One waiting connection's place; dropping it gives the place back.
#[derive(Debug)]
pub struct PendingSlot {
    budget: Arc<PendingBudget>,
    source: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut by = self
            .budget
            .by_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = by.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_share_and_places_come_back() {
        let b = PendingBudget::new(4, 2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let c: IpAddr = [127, 0, 0, 2].into();
        let a1 = b.try_take(a).ok();
        let a2 = b.try_take(a).ok();
        assert!(a1.is_some() && a2.is_some());
        assert_eq!(
            b.try_take(a).err(),
            Some(PendingRefusal::SourceFull { per_source: 2 })
        );
        let c1 = b.try_take(c).ok();
        let c2 = b.try_take(c).ok();
        assert!(c1.is_some() && c2.is_some());
        let d: IpAddr = [127, 0, 0, 3].into();
        assert!(matches!(b.try_take(d), Err(PendingRefusal::Full { .. })));
        drop(a1);
        assert!(b.try_take(a).is_ok(), "a place given back is free again");
        drop((a2, c1, c2));
        assert_eq!(
            b.sources(),
            0,
            "no address is remembered once its connections stop waiting"
        );
    }
}
