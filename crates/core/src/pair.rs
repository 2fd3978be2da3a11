//! Keeping two voices that arrive separately in step: two sound devices,
//! two sockets, two tracks of one stream. One rule for every front door.
//!
//! The engine analyses the two voices hop by hop in lockstep, so samples
//! leave in pairs, and one voice must sometimes wait for the other. Who
//! waits is not symmetric: **the customer's audio never waits long for the
//! agent's**, because the customer's cue is the product and a lagging
//! headset or a stalled agent leg must not delay it. So:
//!
//! - The customer ahead: its audio waits at most [`PairPolicy::max_wait`]
//!   (or not at all past [`PairPolicy::max_lead`]). Then the agent's missing
//!   part is silence ([`PairStats::agent_padded`]), and the agent's audio that
//!   comes later is analysed late, after that silence, not thrown away: a
//!   device that is merely a second behind keeps every delivered line.
//! - The agent ahead: the customer is the call's clock, so the agent's audio
//!   waits for it. More than `max_lead` ahead for `max_wait` (the backlog of
//!   a stall handed over at once), the agent's oldest samples are dropped to
//!   line the voices up again ([`PairStats::agent_dropped`]). The customer's
//!   audio is never padded in front and never dropped.
//!
//! [`Pairing`] only decides; the caller owns the buffers (rings on the
//! real-time thread, vectors on a socket's task) and the clock: `now` is
//! passed in, so tests drive time themselves.

use std::time::{Duration, Instant};

/// How long one voice may wait for the other. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairPolicy {
    /// How far a voice may run ahead of the other, s: a customer further
    /// ahead is not held at all (the agent's voice has stopped), an agent
    /// further ahead for `max_wait` loses its excess.
    pub max_lead_s: f64,
    /// Longest the customer's audio waits for the agent's (and the agent's,
    /// past `max_lead_s`, for the customer's).
    pub max_wait: Duration,
}

impl PairPolicy {
    /// Two sound devices on one machine (`shoutcue live`): their latencies
    /// differ by tens of milliseconds and a busy PulseAudio monitor can fall
    /// a second behind, so the customer waits 150 ms at most and the agent,
    /// padded, is analysed that much later.
    pub const DEVICES: Self = Self {
        max_lead_s: 2.0,
        max_wait: Duration::from_millis(150),
    };

    /// Two legs of one call from a telephony platform (two AudioSocket
    /// connections, the two tracks of a Twilio stream). They come in step
    /// from the platform, give or take a frame; a leg can still be read late
    /// on a busy server, so the customer waits up to half a second before a
    /// silent agent leg counts as stalled, and a socket ahead is held back
    /// (its reads stop) well before `max_lead_s`.
    pub const LEGS: Self = Self {
        max_lead_s: 2.0,
        max_wait: Duration::from_millis(500),
    };
}

/// What a [`Pairing`] did over a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairStats {
    /// Agent samples stood in for by silence while the customer went on.
    pub agent_padded: u64,
    /// Agent samples dropped to line the voices up after a stall's backlog.
    pub agent_dropped: u64,
}

/// What the caller takes from its buffers now: first drop
/// [`Take::drop_agent`] of the agent's oldest samples, then `len` samples
/// per voice leave together, of which the first `customer` (resp. `agent`)
/// are real and the rest silence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Take {
    /// Agent samples to drop before pairing.
    pub drop_agent: usize,
    /// Samples per voice handed to the engine.
    pub len: usize,
    /// Of those, real customer samples (the rest: silence for a gone voice).
    pub customer: usize,
    /// Of those, real agent samples (the rest: silence, padded or gone).
    pub agent: usize,
}

/// The customer's audio waiting to be paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// Samples waiting.
    pub samples: usize,
    /// When the oldest of them arrived, if the caller knows: the wait is
    /// then that sample's own, so a steady stream whose agent part merely
    /// comes a little later is never padded. Unknown, the wait counts from
    /// when the customer got ahead.
    pub oldest: Option<Instant>,
}

/// Which voice has been ahead, and since when.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ahead {
    Customer(Instant),
    Agent(Instant),
}

/// The pairing rule with its clock state. Allocates nothing.
#[derive(Debug, Clone)]
pub struct Pairing {
    max_lead: usize,
    max_wait: Duration,
    ahead: Option<Ahead>,
    /// The agent was padded and has sent nothing since: the customer's next
    /// audio does not wait again (a stalled agent costs one wait, not one
    /// per block).
    padding: bool,
    stats: PairStats,
}

impl Pairing {
    /// The rule for voices at `rate` Hz.
    pub fn new(policy: PairPolicy, rate: u32) -> Self {
        Self {
            max_lead: (policy.max_lead_s * f64::from(rate)).max(0.0) as usize,
            max_wait: policy.max_wait,
            ahead: None,
            padding: false,
            stats: PairStats::default(),
        }
    }

    /// What happened so far.
    pub fn stats(&self) -> PairStats {
        self.stats
    }

    /// Decides what leaves now, given what waits per voice (`None`: that
    /// voice is gone or lost, and silence stands in for it uncounted), at
    /// most `max` per voice.
    pub fn decide(
        &mut self,
        customer: Option<Queued>,
        agent: Option<usize>,
        max: usize,
        now: Instant,
    ) -> Take {
        let (c, oldest, a) = match (customer, agent) {
            (Some(c), Some(a)) => (c.samples, c.oldest, a),
            (c, a) => {
                self.ahead = None;
                let c = c.map(|c| c.samples);
                let len = c.unwrap_or(0).max(a.unwrap_or(0)).min(max);
                return Take {
                    drop_agent: 0,
                    len,
                    customer: c.map_or(0, |c| c.min(len)),
                    agent: a.map_or(0, |a| a.min(len)),
                };
            }
        };
        if a > 0 {
            self.padding = false;
        }
        if c > a {
            let since = match self.ahead {
                Some(Ahead::Customer(t)) => t,
                _ => now,
            };
            self.ahead = Some(Ahead::Customer(since));
            let waited = now.saturating_duration_since(oldest.map_or(since, |o| o.max(since)));
            if self.padding || c - a > self.max_lead || waited >= self.max_wait {
                self.padding = true;
                let len = c.min(max);
                let agent = a.min(len);
                self.stats.agent_padded += (len - agent) as u64;
                return Take {
                    drop_agent: 0,
                    len,
                    customer: len,
                    agent,
                };
            }
            let len = a.min(max);
            return Take {
                drop_agent: 0,
                len,
                customer: len,
                agent: len,
            };
        }
        let mut drop_agent = 0;
        if a - c > self.max_lead {
            let since = match self.ahead {
                Some(Ahead::Agent(t)) => t,
                _ => now,
            };
            self.ahead = Some(Ahead::Agent(since));
            if now.saturating_duration_since(since) >= self.max_wait {
                drop_agent = a - c;
                self.stats.agent_dropped += drop_agent as u64;
                self.ahead = None;
            }
        } else {
            self.ahead = None;
        }
        let len = c.min(max);
        Take {
            drop_agent,
            len,
            customer: len,
            agent: len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PairPolicy = PairPolicy {
        max_lead_s: 1.0,
        max_wait: Duration::from_millis(150),
    };

    fn take(drop_agent: usize, len: usize, customer: usize, agent: usize) -> Take {
        Take {
            drop_agent,
            len,
            customer,
            agent,
        }
    }

    fn c(samples: usize) -> Option<Queued> {
        Some(Queued {
            samples,
            oldest: None,
        })
    }

    #[test]
    fn pairs_what_both_have_and_the_customer_waits_only_so_long() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut p = Pairing::new(POLICY, 100);
        assert_eq!(p.decide(c(30), Some(10), 1000, ms(0)), take(0, 10, 10, 10));
        // 20 customer samples wait; 100 ms later they still do.
        assert_eq!(p.decide(c(20), Some(0), 1000, ms(100)), take(0, 0, 0, 0));
        // At 150 ms they go on, the agent's part silence.
        assert_eq!(p.decide(c(25), Some(0), 1000, ms(150)), take(0, 25, 25, 0));
        assert_eq!(p.stats().agent_padded, 25);
        // Nothing from the agent since: the customer does not wait again.
        assert_eq!(p.decide(c(0), Some(0), 1000, ms(151)), take(0, 0, 0, 0));
        assert_eq!(p.decide(c(5), Some(0), 1000, ms(152)), take(0, 5, 5, 0));
        // The agent is back (late): paired, and a new lead waits anew.
        assert_eq!(p.decide(c(4), Some(4), 1000, ms(153)), take(0, 4, 4, 4));
        assert_eq!(p.decide(c(6), Some(2), 1000, ms(160)), take(0, 2, 2, 2));
        assert_eq!(p.stats().agent_padded, 30);
    }

    #[test]
    fn the_wait_is_the_oldest_customer_samples_own() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut p = Pairing::new(POLICY, 100);
        let q = |samples, at| {
            Some(Queued {
                samples,
                oldest: Some(ms(at)),
            })
        };
        // Ahead since 0 ms, but the agent keeps pairing off the older
        // samples: what waits at 200 ms arrived at 120 ms, so it waits on.
        assert_eq!(p.decide(q(10, 0), Some(0), 1000, ms(0)), take(0, 0, 0, 0));
        assert_eq!(
            p.decide(q(10, 120), Some(5), 1000, ms(200)),
            take(0, 5, 5, 5)
        );
        // At 270 ms the 120 ms samples have waited 150 ms.
        assert_eq!(
            p.decide(q(5, 120), Some(0), 1000, ms(270)),
            take(0, 5, 5, 0)
        );
    }

    #[test]
    fn a_customer_more_than_max_lead_ahead_is_not_held() {
        let t0 = Instant::now();
        let mut p = Pairing::new(POLICY, 100);
        assert_eq!(p.decide(c(101), Some(0), 64, t0), take(0, 64, 64, 0));
        assert_eq!(p.stats().agent_padded, 64);
    }

    #[test]
    fn an_agent_far_ahead_for_long_loses_its_oldest_samples() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut p = Pairing::new(POLICY, 100);
        // Ahead within max_lead: it waits for the customer, nothing dropped.
        assert_eq!(p.decide(c(10), Some(90), 1000, ms(0)), take(0, 10, 10, 10));
        // A backlog past max_lead waits max_wait, then is trimmed to line up.
        assert_eq!(
            p.decide(c(10), Some(300), 1000, ms(10)),
            take(0, 10, 10, 10)
        );
        assert_eq!(
            p.decide(c(10), Some(290), 1000, ms(100)),
            take(0, 10, 10, 10)
        );
        assert_eq!(
            p.decide(c(10), Some(280), 1000, ms(160)),
            take(270, 10, 10, 10)
        );
        assert_eq!(
            p.stats(),
            PairStats {
                agent_padded: 0,
                agent_dropped: 270
            }
        );
    }

    #[test]
    fn a_gone_voice_is_silence_and_not_counted() {
        let t0 = Instant::now();
        let mut p = Pairing::new(POLICY, 100);
        assert_eq!(p.decide(c(30), None, 20, t0), take(0, 20, 20, 0));
        assert_eq!(p.decide(None, Some(7), 20, t0), take(0, 7, 0, 7));
        assert_eq!(p.decide(None, None, 20, t0), take(0, 0, 0, 0));
        assert_eq!(p.stats(), PairStats::default());
    }
}
