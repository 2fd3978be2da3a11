//! Converts one mono channel to [`ANALYSIS_RATE`] with rubato's FFT resampler.
//!
//! The ratio is fixed for a call, so rubato's synchronous `Fft` resampler
//! fits: high quality (its anti-alias filter removes everything above
//! 4 kHz before decimation) and cheap. Its per-block work runs in [`fft`],
//! rubato's algorithm re-implemented bit for bit for speed (see there why).
//! This wrapper adds what a streaming
//! pipeline needs and rubato leaves to the caller: any block length up to
//! a bound fixed at construction, the filter delay trimmed so output time
//! lines up with input time, and a `flush` that makes the total length
//! exactly `round(input_len * ratio)`.

mod fft;

use crate::ANALYSIS_RATE;

/// Shortest and longest input block: at least 20 ms for a sharp enough
/// anti-alias filter (>40 dB down above 4 kHz; rubato's filter is as long as
/// the block), at most 45 ms because live cues wait for the block.
const CHUNK_S: (f64, f64) = (0.020, 0.045);

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Input block to ask rubato for.
///
/// An even multiple of the smallest block the rate pair allows: rubato
/// centres its filter on input sample `fft_size_in / 2` but reports the delay
/// as `fft_size_out / 2` output frames, rounded down; with both sizes even the
/// two agree exactly, so trimming leaves no fractional-sample skew (up to half
/// a sample at 48 kHz otherwise). Among those within [`CHUNK_S`], the one with
/// the most factors of two, because rustfft is fastest on such lengths: at
/// 44.1 kHz, 1,764 samples (2²·441) in place of 882 made a QA batch of
/// 44.1 kHz calls 19 % faster; at 48 kHz, 1,536 replaces 1,020 (= 4·3·5·17).
fn chunk_size(input_rate: usize) -> usize {
    let pair = 2 * input_rate / gcd(input_rate, ANALYSIS_RATE as usize);
    let bound = |s: f64| (s * input_rate as f64).round() as usize;
    let (lo, hi) = (bound(CHUNK_S.0).div_ceil(pair), bound(CHUNK_S.1) / pair);
    (lo.max(1)..=hi.max(lo).max(1))
        .map(|p| p * pair)
        .max_by_key(|c| (c.trailing_zeros(), std::cmp::Reverse(*c)))
        .unwrap_or(pair)
}

/// Why the resampler could not be built or could not run a block.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// Input rate of 0 Hz.
    #[error("input sample rate must be > 0 Hz, got 0")]
    ZeroRate,
    /// `max_input` of 0 frames.
    #[error("max_input must be at least 1 frame, got 0")]
    ZeroMaxInput,
    /// The block is longer than the `max_input` given to `new`.
    #[error("input block of {got} frames exceeds max_input of {max}")]
    InputTooLong {
        /// The bound given at construction.
        max: usize,
        /// Frames passed.
        got: usize,
    },
    /// The output slice cannot hold what this call produces.
    #[error("output buffer holds {got} frames, this call produces {needed}")]
    OutputTooShort {
        /// Frames this call writes.
        needed: usize,
        /// Frames the slice holds.
        got: usize,
    },
}

/// The FFT resampler with chunk staging and delay trimming.
struct Engine {
    fft: fft::FftResampler,
    chunk_in: usize,
    chunk_out: usize,
    delay: usize,
    /// Input staged until a whole rubato chunk is there.
    pending: Vec<f32>,
    fill: usize,
    /// One chunk of rubato output.
    out: Vec<f32>,
    /// Output frames still to drop for the filter delay.
    trim: usize,
}

impl Engine {
    /// Runs the staged chunk (`partial`: how many staged frames are real,
    /// `None` = all); copies the trimmed result to `output`, truncated to its
    /// length, and returns the frames copied.
    fn run_chunk(&mut self, partial: Option<usize>, output: &mut [f32]) -> usize {
        if let Some(real) = partial {
            // rubato zero-pads a partial chunk.
            self.pending[real.min(self.chunk_in)..].fill(0.0);
        }
        self.fft.process(&self.pending, &mut self.out);
        let produced = self.chunk_out;
        let skip = self.trim.min(produced);
        self.trim -= skip;
        let n = (produced - skip).min(output.len());
        output[..n].copy_from_slice(&self.out[skip..skip + n]);
        n
    }
}

/// One mono channel's converter to [`ANALYSIS_RATE`]; build one per channel.
pub struct Resampler {
    input_rate: u32,
    max_input: usize,
    /// `None` at 8 kHz: samples pass through untouched.
    engine: Option<Engine>,
    /// Input frames seen since construction or the last reset/flush.
    total_in: u64,
    /// Output frames delivered since then.
    total_out: u64,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("input_rate", &self.input_rate)
            .field("max_input", &self.max_input)
            .field("passthrough", &self.engine.is_none())
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// `max_input`: the largest block the caller will pass to `process`. Sizes every buffer here.
    pub fn new(input_rate: u32, max_input: usize) -> Result<Self, ResampleError> {
        if input_rate == 0 {
            return Err(ResampleError::ZeroRate);
        }
        if max_input == 0 {
            return Err(ResampleError::ZeroMaxInput);
        }
        let engine = if input_rate == ANALYSIS_RATE {
            None
        } else {
            // rubato's `Fft::new(rate, 8000, chunk, 1, FixedSync::Both)`:
            // one FFT block per chunk, `chunk_in` frames in, `chunk_out` out.
            let rate = input_rate as usize;
            let g = gcd(rate, ANALYSIS_RATE as usize);
            let chunk_in = chunk_size(rate);
            let chunk_out = chunk_in / (rate / g) * (ANALYSIS_RATE as usize / g);
            let fft = fft::FftResampler::new(chunk_in, chunk_out);
            // rubato's `output_delay`.
            let delay = chunk_out / 2;
            Some(Engine {
                fft,
                chunk_in,
                chunk_out,
                delay,
                pending: vec![0.0; chunk_in],
                fill: 0,
                out: vec![0.0; chunk_out],
                trim: delay,
            })
        };
        Ok(Resampler {
            input_rate,
            max_input,
            engine,
            total_in: 0,
            total_out: 0,
        })
    }

    /// Always [`ANALYSIS_RATE`]; here so callers need not assume it.
    pub fn output_rate(&self) -> u32 {
        ANALYSIS_RATE
    }

    /// The input rate this resampler was built for.
    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// Upper bound on frames written by one process() or flush(): size output buffers with it.
    pub fn max_output(&self) -> usize {
        match &self.engine {
            None => self.max_input,
            Some(e) => {
                // process: at most (chunk_in - 1 staged + max_input) / chunk_in chunks.
                let by_process = self.max_input.div_ceil(e.chunk_in) * e.chunk_out;
                // flush: the staged part of a chunk plus the trimmed delay, plus rounding.
                let by_flush = e.chunk_out + e.delay + 1;
                by_process.max(by_flush)
            }
        }
    }

    /// Frames the next `process` call with `input_len` frames will write.
    pub fn output_len_for(&self, input_len: usize) -> usize {
        match &self.engine {
            None => input_len,
            Some(e) => {
                let chunks = (e.fill + input_len) / e.chunk_in;
                let produced = chunks * e.chunk_out;
                produced - e.trim.min(produced)
            }
        }
    }

    /// Any input length 0..=max_input; buffers internally to rubato's chunk size. Returns frames written.
    /// Delay-compensated: output sample n is the signal at time n / ANALYSIS_RATE (the filter delay is trimmed).
    /// No allocation, lock or log.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) -> Result<usize, ResampleError> {
        if input.len() > self.max_input {
            return Err(ResampleError::InputTooLong {
                max: self.max_input,
                got: input.len(),
            });
        }
        let needed = self.output_len_for(input.len());
        if output.len() < needed {
            return Err(ResampleError::OutputTooShort {
                needed,
                got: output.len(),
            });
        }
        self.total_in += input.len() as u64;
        let Some(e) = self.engine.as_mut() else {
            output[..input.len()].copy_from_slice(input);
            self.total_out += input.len() as u64;
            return Ok(input.len());
        };
        let mut written = 0;
        let mut rest = input;
        while !rest.is_empty() {
            let take = rest.len().min(e.chunk_in - e.fill);
            e.pending[e.fill..e.fill + take].copy_from_slice(&rest[..take]);
            e.fill += take;
            rest = &rest[take..];
            if e.fill == e.chunk_in {
                written += e.run_chunk(None, &mut output[written..]);
                e.fill = 0;
            }
        }
        self.total_out += written as u64;
        Ok(written)
    }

    /// At end of stream: pads and drains what remains so the output length matches round(input_len * ratio).
    /// Leaves the resampler reset, ready for a new stream.
    pub fn flush(&mut self, output: &mut [f32]) -> Result<usize, ResampleError> {
        let Some(e) = self.engine.as_mut() else {
            self.total_in = 0;
            self.total_out = 0;
            return Ok(0);
        };
        // round(total_in * 8000 / rate) in integers.
        let rate = u64::from(self.input_rate);
        let expected = (self.total_in * u64::from(ANALYSIS_RATE) + rate / 2) / rate;
        let needed = usize::try_from(expected.saturating_sub(self.total_out)).unwrap_or(usize::MAX);
        if output.len() < needed {
            return Err(ResampleError::OutputTooShort {
                needed,
                got: output.len(),
            });
        }
        let mut written = 0;
        while written < needed {
            // First the staged frames (rubato zero-pads the chunk), then pure
            // silence, until the signal's tail has come through the filter.
            let staged = e.fill;
            e.fill = 0;
            written += e.run_chunk(Some(staged), &mut output[written..needed]);
        }
        self.reset();
        Ok(needed)
    }

    /// Clears all history, as if newly built (e.g. between calls).
    pub fn reset(&mut self) {
        if let Some(e) = self.engine.as_mut() {
            e.fft.reset();
            e.fill = 0;
            e.trim = e.delay;
            e.pending.iter_mut().for_each(|s| *s = 0.0);
        }
        self.total_in = 0;
        self.total_out = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_favour_powers_of_two_within_the_latency_bound() {
        let cases = [
            (44_100, 1_764),
            (48_000, 1_536),
            (16_000, 512),
            (22_050, 882),
        ];
        for (rate, want) in cases {
            assert_eq!(chunk_size(rate), want, "{rate} Hz");
        }
        // Rates whose smallest even block is already past the bound get that block.
        assert_eq!(chunk_size(11_025), 882);
        for rate in (8_001..=48_000).step_by(97) {
            let pair = 2 * rate / gcd(rate, ANALYSIS_RATE as usize);
            let c = chunk_size(rate);
            assert_eq!(c % pair, 0, "{rate} Hz: {c} is not a multiple of {pair}");
            let secs = c as f64 / rate as f64;
            assert!(c == pair || secs <= CHUNK_S.1 + 1e-9, "{rate} Hz: {secs} s");
        }
    }
}
