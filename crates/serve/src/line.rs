//! A line calibration learnt from the server's own calls, per listener
//! (`line_learning`): each ended call gives its sample (the customer's
//! calm voice, [`CallEngine::with_line_sampler`]), the last [`KEEP_CALLS`]
//! are kept, and once they make a calibration
//! ([`LineCalibration::from_calls`]: enough calls, many voices) new calls
//! on that listener are judged against it. Only these few numbers per call
//! are kept, in memory: no audio, nothing on disk; a restart learns again.
//!
//! With NATS, every node of a site shares its samples through a JetStream
//! key-value bucket (`crate::nats`), and each listener's line is then made
//! of the whole site's calls on that listener.
//!
//! [`CallEngine::with_line_sampler`]: shoutcue_core::engine::CallEngine::with_line_sampler

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use shoutcue_core::detector::baseline::BaselineValues;
use shoutcue_core::detector::{LineCalibration, ShoutModel};

use crate::call::Protocol;

/// One call's sample (the customer's calm voice).
pub type Sample = BaselineValues;

/// Calls kept per listener: the line as its recent callers make it.
pub const KEEP_CALLS: usize = 500;

/// One listener's learning.
#[derive(Default)]
struct Listener {
    samples: VecDeque<BaselineValues>,
    /// The other nodes' samples for this listener, as last read.
    remote: Vec<BaselineValues>,
    /// Bumped with every sample of this node's: whether to share again.
    version: u64,
    /// The model calibrated to the line, once there is a calibration.
    model: Option<Arc<ShoutModel>>,
    calibration: Option<LineCalibration>,
}

/// Every listener's learning. Locked only at a call's start and end,
/// never per frame.
pub struct LineLearning {
    base: ShoutModel,
    listeners: [Mutex<Listener>; 4],
}

/// What `/metrics` shows of one listener's line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LineState {
    /// Calls with a sample kept, this node's and (with NATS) the others'.
    pub calls: usize,
    /// The shift applied to new calls (alpha dB, centroid st), once calibrated.
    pub shift: Option<[f32; 2]>,
}

impl LineLearning {
    /// Learning for `base` (the server's model, uncalibrated).
    pub fn new(base: ShoutModel) -> Self {
        Self {
            base,
            listeners: Default::default(),
        }
    }

    /// The model for a new call on `protocol`'s listener: calibrated to its
    /// line once there is one.
    pub fn model_for(&self, protocol: Protocol) -> Option<Arc<ShoutModel>> {
        self.listeners[protocol.index()]
            .lock()
            .ok()
            .and_then(|l| l.model.clone())
    }

    /// An ended call's sample; the line is recomputed (a sort of at most
    /// [`KEEP_CALLS`] numbers). A sample without the customer's own calm
    /// voice is not kept.
    pub fn learn(&self, protocol: Protocol, sample: BaselineValues) {
        if !sample.own {
            return;
        }
        let Ok(mut l) = self.listeners[protocol.index()].lock() else {
            return;
        };
        if l.samples.len() == KEEP_CALLS {
            l.samples.pop_front();
        }
        l.samples.push_back(sample);
        l.version += 1;
        self.recompute(protocol, &mut l);
    }

    /// The other nodes' samples for `protocol`'s listener, as read from the
    /// site's bucket; the line is recomputed from theirs and this node's.
    pub fn set_remote(&self, protocol: Protocol, remote: Vec<BaselineValues>) {
        let Ok(mut l) = self.listeners[protocol.index()].lock() else {
            return;
        };
        if l.remote == remote {
            return;
        }
        l.remote = remote;
        self.recompute(protocol, &mut l);
    }

    /// This node's own samples for `protocol`'s listener, to share, and
    /// their version (it changes with every new sample).
    pub fn own_samples(&self, protocol: Protocol) -> (u64, Vec<BaselineValues>) {
        self.listeners[protocol.index()]
            .lock()
            .map(|l| (l.version, l.samples.iter().copied().collect()))
            .unwrap_or_default()
    }

    fn recompute(&self, protocol: Protocol, l: &mut Listener) {
        let line = LineCalibration::from_calls(
            l.samples.iter().chain(&l.remote).copied(),
            format!("serve {} listener", protocol.as_str()),
        );
        match line.and_then(|c| Ok((self.base.calibrated(&c)?, c))) {
            Ok((model, c)) => {
                if l.calibration.is_none() {
                    tracing::info!(
                        listener = protocol.as_str(),
                        calls = c.calls,
                        "cold starts now judged against this line's callers (alpha {:.1} dB, centroid {:.1} st)",
                        c.alpha_db,
                        c.centroid_st
                    );
                }
                l.model = Some(Arc::new(model));
                l.calibration = Some(c);
            }
            // Too few calls or voices yet, or a line the model cannot take:
            // the last good calibration (or none) stands.
            Err(e) => tracing::debug!(listener = protocol.as_str(), "line not (re)calibrated: {e}"),
        }
    }

    /// What `/metrics` shows for `protocol`'s listener.
    pub fn state(&self, protocol: Protocol) -> LineState {
        let Ok(l) = self.listeners[protocol.index()].lock() else {
            return LineState::default();
        };
        LineState {
            calls: l.samples.len() + l.remote.len(),
            shift: l
                .model
                .as_ref()
                .and_then(|m| m.cold.as_ref())
                .and_then(|c| c.line_shift),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(i: usize, alpha_db: f32) -> BaselineValues {
        BaselineValues {
            f0_st: [2.0, 6.0, 10.0, 14.0, 18.0][i % 5],
            alpha_db,
            level_db: -26.0,
            centroid_st: 24.0,
            own: true,
        }
    }

    #[test]
    fn a_listener_calibrates_once_it_has_heard_enough_callers_and_only_its_own() {
        let mut base = ShoutModel::builtin();
        if let Some(c) = base.cold.as_mut() {
            c.line_reference = Some([-18.0, 24.0]);
        }
        let lines = LineLearning::new(base);
        for i in 0..19 {
            lines.learn(Protocol::AudioSocket, caller(i, -15.0));
        }
        assert!(
            lines.model_for(Protocol::AudioSocket).is_none(),
            "19 calls are too few"
        );
        lines.learn(
            Protocol::AudioSocket,
            BaselineValues {
                own: false,
                ..caller(0, -15.0)
            },
        );
        assert_eq!(
            lines.state(Protocol::AudioSocket).calls,
            19,
            "a call without a calm voice is no sample"
        );
        lines.learn(Protocol::AudioSocket, caller(19, -15.0));
        let m = lines
            .model_for(Protocol::AudioSocket)
            .expect("calibrated at 20");
        assert_eq!(m.cold.as_ref().and_then(|c| c.line_shift), Some([3.0, 0.0]));
        assert_eq!(lines.state(Protocol::AudioSocket).shift, Some([3.0, 0.0]));
        // Another listener's line is its own.
        assert!(lines.model_for(Protocol::Twilio).is_none());
        // The oldest calls leave: the line follows its recent callers.
        for i in 0..KEEP_CALLS {
            lines.learn(Protocol::AudioSocket, caller(i, -19.0));
        }
        assert_eq!(lines.state(Protocol::AudioSocket).calls, KEEP_CALLS);
        assert_eq!(lines.state(Protocol::AudioSocket).shift, Some([-1.0, 0.0]));
    }
}
