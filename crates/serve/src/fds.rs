//! File descriptors: the server's budget for calls.
//!
//! Every call holds a socket per leg and its events file, and the kernel
//! counts each against the process's soft limit, which distributions leave
//! at 1,024 even where the hard limit is far higher: about 500 calls, and
//! then every listener, `/healthz` included, fails to accept. So the soft
//! limit is raised to the hard one at start, and a `max_calls` the budget
//! cannot carry is refused then, not discovered under load.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors a running call may hold: two legs' sockets (AudioSocket;
/// one for the other protocols) and its events file, which its notes
/// replace at the end.
pub const PER_CALL: u64 = 3;
/// Descriptors kept for everything else: listeners, the runtime, pages,
/// health checks, NATS, handshakes in progress.
pub const RESERVE: u64 = 96;

/// Raises the soft limit on open files to the hard limit; returns the
/// limit now in force.
pub fn raise_soft_limit() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(std::io::Error::from)?;
        return Ok(hard);
    }
    Ok(soft)
}

/// Whether `max_calls` fit in `limit` descriptors; the error says what
/// to change.
pub fn check_budget(max_calls: usize, limit: u64) -> Result<(), String> {
    let need = (max_calls as u64)
        .saturating_mul(PER_CALL)
        .saturating_add(RESERVE);
    if need > limit {
        let fits = limit.saturating_sub(RESERVE) / PER_CALL;
        return Err(format!(
            "max_calls {max_calls} needs about {need} open files ({PER_CALL} a call + {RESERVE}), \
             but this process may open {limit} (ulimit -n; LimitNOFILE= under systemd): \
             raise that limit, or set max_calls to at most {fits}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_three_a_call_and_a_reserve() {
        // The default 1,000 calls fit an old distribution's hard limit.
        assert!(check_budget(1000, 4096).is_ok());
        let e = check_budget(500, 1024).unwrap_err();
        assert!(e.contains("at most 309"), "{e}");
        assert!(check_budget(309, 1024).is_ok());
        assert!(check_budget(310, 1024).is_err());
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let got = raise_soft_limit().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!((got, soft), (hard, hard));
    }
}
