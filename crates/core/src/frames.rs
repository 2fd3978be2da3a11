//! Framing: a stream of samples in, one analysis window per hop out.
//!
//! Frame `i` is centred at `i * HOP` samples (t = i × 10 ms): its window spans
//! `WINDOW / 2` samples either side. The stream is preceded by `WINDOW / 2`
//! zeros so that frame 0 is centred on the first sample, and [`Framer::flush`]
//! pads zeros after the end so the last real samples are analysed too.

use crate::{HOP, WINDOW};

/// One complete analysis frame, borrowed from the [`Framer`].
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Frame number; its centre is at `index * HOP` samples.
    pub index: u64,
    /// The `WINDOW` samples around the frame's centre.
    pub window: &'a [f32],
    /// The `HOP` samples at the centre of `window` (t ± 5 ms): each input
    /// sample is in exactly one frame's `hop`, so per-sample measures
    /// (loudness, clipping) count every sample once.
    pub hop: &'a [f32],
}

/// Cuts a sample stream into overlapping analysis windows, one per hop.
///
/// Holds exactly one window of history; no allocation after [`Framer::new`].
#[derive(Debug, Clone)]
pub struct Framer {
    buf: [f32; WINDOW],
    /// Samples currently held in `buf` (from the start).
    filled: usize,
    next_index: u64,
    /// Real samples pushed in total, to know how much padding `flush` needs.
    pushed: u64,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// A framer whose first frame is centred on the first sample pushed.
    pub fn new() -> Self {
        Self {
            buf: [0.0; WINDOW],
            filled: WINDOW / 2,
            next_index: 0,
            pushed: 0,
        }
    }

    /// Starts a new stream, as if just constructed.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Number of frames emitted so far.
    pub fn frames_emitted(&self) -> u64 {
        self.next_index
    }

    /// Pushes samples and calls `on_frame` for every frame they complete.
    pub fn process<F: FnMut(Frame<'_>)>(&mut self, mut input: &[f32], mut on_frame: F) {
        self.pushed += input.len() as u64;
        while !input.is_empty() {
            let take = (WINDOW - self.filled).min(input.len());
            self.buf[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled == WINDOW {
                self.emit(&mut on_frame);
            }
        }
    }

    /// Ends the stream: pads with zeros until every pushed sample has been the
    /// centre hop of some frame, emitting the remaining frames.
    pub fn flush<F: FnMut(Frame<'_>)>(&mut self, mut on_frame: F) {
        // Up to the frame whose centre hop holds the last real sample.
        let wanted = if self.pushed == 0 {
            0
        } else {
            (self.pushed - 1 + HOP as u64 / 2) / HOP as u64 + 1
        };
        while self.next_index < wanted {
            let take = WINDOW - self.filled;
            self.buf[self.filled..].fill(0.0);
            self.filled += take;
            self.emit(&mut on_frame);
        }
    }

    fn emit<F: FnMut(Frame<'_>)>(&mut self, on_frame: &mut F) {
        on_frame(Frame {
            index: self.next_index,
            window: &self.buf,
            hop: &self.buf[(WINDOW - HOP) / 2..(WINDOW + HOP) / 2],
        });
        self.next_index += 1;
        self.buf.copy_within(HOP.., 0);
        self.filled = WINDOW - HOP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_zero_is_centred_on_the_first_sample() {
        let mut f = Framer::new();
        let input: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        let mut centres = Vec::new();
        f.process(&input, |fr| centres.push((fr.index, fr.window[WINDOW / 2])));
        f.flush(|fr| centres.push((fr.index, fr.window[WINDOW / 2])));
        // Sample value v sits at position v-1; frame i's centre is sample i*HOP.
        for (i, c) in &centres {
            assert_eq!(*c, (*i as usize * HOP + 1) as f32, "frame {i}");
        }
        // The last frame is the one whose centre hop holds sample 999.
        assert_eq!(centres.len(), (999 + HOP / 2) / HOP + 1);
    }

    #[test]
    fn every_sample_is_in_exactly_one_hop_and_block_size_does_not_matter() {
        let input: Vec<f32> = (0..2345).map(|i| (i as f32 * 0.37).sin()).collect();
        let collect = |blocks: usize| {
            let mut f = Framer::new();
            let mut hops = Vec::new();
            let mut wins = Vec::new();
            for chunk in input.chunks(blocks) {
                f.process(chunk, |fr| {
                    hops.extend_from_slice(fr.hop);
                    wins.push(fr.window.to_vec());
                });
            }
            f.flush(|fr| {
                hops.extend_from_slice(fr.hop);
                wins.push(fr.window.to_vec());
            });
            (hops, wins)
        };
        let (h1, w1) = collect(1);
        let (h2, w2) = collect(333);
        assert_eq!(w1, w2);
        assert_eq!(h1, h2);
        // Frame 0's hop starts HOP/2 before the first sample; after those
        // zeros, the hops replay the input exactly, to its last sample.
        assert!(h1[..HOP / 2].iter().all(|&x| x == 0.0));
        assert_eq!(&h1[HOP / 2..HOP / 2 + input.len()], &input[..]);
        assert!(h1.len() - HOP / 2 - input.len() < HOP);
    }
}
