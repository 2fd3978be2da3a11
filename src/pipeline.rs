//! Wires the stages together: source → resample → frames → features, per
//! channel, in lockstep for a two-channel call.
//!
//! Everything is sized at construction for the largest block the caller
//! will pass; the per-block path allocates nothing.

use crate::features::{FeatureConfig, FeatureExtractor, Features};
use crate::frames::Framer;
use crate::resample::{ResampleError, Resampler};
use crate::HOP;

/// One channel from input samples to per-hop features.
pub struct ChannelFeatures {
    resampler: Resampler,
    framer: Framer,
    fx: FeatureExtractor,
    resampled: Vec<f32>,
    current: Features,
}

impl ChannelFeatures {
    /// A channel at `input_rate` Hz, fed blocks of at most `max_block` samples.
    pub fn new(
        input_rate: u32,
        max_block: usize,
        cfg: FeatureConfig,
    ) -> Result<Self, ResampleError> {
        let resampler = Resampler::new(input_rate, max_block)?;
        let resampled = vec![0.0; resampler.max_output()];
        Ok(Self {
            resampler,
            framer: Framer::new(),
            fx: FeatureExtractor::new(cfg),
            resampled,
            current: Features::default(),
        })
    }

    /// Most hops one block can produce, for sizing the caller's buffers.
    pub fn max_hops_per_block(&self) -> usize {
        self.resampled.len() / HOP + 2
    }

    /// Pushes one block and calls `on` with the features of each hop it completes.
    pub fn process<F: FnMut(&Features)>(
        &mut self,
        input: &[f32],
        mut on: F,
    ) -> Result<(), ResampleError> {
        let n = self.resampler.process(input, &mut self.resampled)?;
        let (fx, cur) = (&mut self.fx, &mut self.current);
        self.framer.process(&self.resampled[..n], |frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        Ok(())
    }

    /// Ends the stream: drains the resampler and the framer.
    pub fn finish<F: FnMut(&Features)>(&mut self, mut on: F) -> Result<(), ResampleError> {
        let n = self.resampler.flush(&mut self.resampled)?;
        let (fx, cur) = (&mut self.fx, &mut self.current);
        self.framer.process(&self.resampled[..n], |frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        self.framer.flush(|frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        Ok(())
    }

    /// BS.1770 integrated loudness of the channel so far, LUFS.
    pub fn integrated_loudness(&self) -> Option<f64> {
        self.fx.integrated_loudness()
    }
}

/// Both channels of a call, hop by hop in lockstep.
pub struct CallFeatures {
    customer: ChannelFeatures,
    agent: Option<ChannelFeatures>,
    cust_hops: Vec<Features>,
    agent_hops: Vec<Features>,
}

impl CallFeatures {
    /// A call at `input_rate`, with or without an agent channel.
    pub fn new(
        input_rate: u32,
        max_block: usize,
        has_agent: bool,
        cfg: FeatureConfig,
    ) -> Result<Self, ResampleError> {
        let customer = ChannelFeatures::new(input_rate, max_block, cfg)?;
        let agent = if has_agent {
            Some(ChannelFeatures::new(input_rate, max_block, cfg)?)
        } else {
            None
        };
        // Room for a block's hops plus the flush of the framer's last window.
        let cap = customer.max_hops_per_block() + crate::WINDOW / HOP + 2;
        Ok(Self {
            customer,
            agent,
            cust_hops: Vec::with_capacity(cap),
            agent_hops: Vec::with_capacity(cap),
        })
    }

    /// Pushes one block of each channel (`agent` ignored without an agent
    /// channel) and calls `on(customer, agent)` for each hop.
    pub fn process<F: FnMut(&Features, Option<&Features>)>(
        &mut self,
        customer: &[f32],
        agent: &[f32],
        on: F,
    ) -> Result<(), ResampleError> {
        self.cust_hops.clear();
        self.agent_hops.clear();
        let ch = &mut self.cust_hops;
        self.customer.process(customer, |f| ch.push(*f))?;
        if let Some(a) = &mut self.agent {
            let ah = &mut self.agent_hops;
            a.process(agent, |f| ah.push(*f))?;
        }
        self.emit(on);
        Ok(())
    }

    /// Ends the call: drains both channels.
    pub fn finish<F: FnMut(&Features, Option<&Features>)>(
        &mut self,
        on: F,
    ) -> Result<(), ResampleError> {
        self.cust_hops.clear();
        self.agent_hops.clear();
        let ch = &mut self.cust_hops;
        self.customer.finish(|f| ch.push(*f))?;
        if let Some(a) = &mut self.agent {
            let ah = &mut self.agent_hops;
            a.finish(|f| ah.push(*f))?;
        }
        self.emit(on);
        Ok(())
    }

    fn emit<F: FnMut(&Features, Option<&Features>)>(&self, mut on: F) {
        // Both channels share rate and block sizes, so their hops pair up.
        for (i, c) in self.cust_hops.iter().enumerate() {
            on(c, self.agent_hops.get(i));
        }
    }

    /// The customer channel (for its integrated loudness).
    pub fn customer(&self) -> &ChannelFeatures {
        &self.customer
    }

    /// The agent channel, if any.
    pub fn agent(&self) -> Option<&ChannelFeatures> {
        self.agent.as_ref()
    }
}
