//! Audio bytes as the media protocols carry them, into the customer's and
//! the agent's samples: one de-interleaver for all of them.

/// How one sample of one channel is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 mu-law, one byte (Twilio, AudioHook's PCMU).
    Mulaw,
    /// 16-bit little-endian linear PCM (AudioSocket, FreeSWITCH, AudioHook's L16).
    L16,
}

impl Encoding {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            Encoding::Mulaw => 1,
            Encoding::L16 => 2,
        }
    }

    fn decode(self, b: &[u8]) -> f32 {
        match self {
            Encoding::Mulaw => shoutcue_core::source::mulaw_to_f32(b[0]),
            Encoding::L16 => shoutcue_core::source::pcm16_to_f32(i16::from_le_bytes([b[0], b[1]])),
        }
    }
}

/// Audio whose length is not a whole number of frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audio of {got} bytes is not whole frames of {width} bytes")]
pub struct PartialFrame {
    /// Bytes received.
    pub got: usize,
    /// Bytes per frame (all channels).
    pub width: usize,
}

/// How the voices sit in a stream's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The sample encoding.
    pub encoding: Encoding,
    /// Channels per frame: 1 (the customer alone) or 2.
    pub channels: usize,
    /// Which channel is the customer's (the other, if any, the agent's).
    pub customer: usize,
}

impl Layout {
    /// One voice, 16-bit PCM (an AudioSocket leg).
    pub const MONO_L16: Self = Self {
        encoding: Encoding::L16,
        channels: 1,
        customer: 0,
    };
    /// One voice, mu-law (a Twilio track).
    pub const MONO_MULAW: Self = Self {
        encoding: Encoding::Mulaw,
        channels: 1,
        customer: 0,
    };

    /// Replaces `cust` and `agent` with the voices of `bytes` (`agent` stays
    /// empty for one channel). Nothing is changed on an error.
    pub fn split(
        &self,
        bytes: &[u8],
        cust: &mut Vec<f32>,
        agent: &mut Vec<f32>,
    ) -> Result<(), PartialFrame> {
        self.check(bytes)?;
        cust.clear();
        agent.clear();
        self.append(bytes, cust, agent)
    }

    /// Adds the voices of `bytes` after what `cust` and `agent` hold.
    /// Nothing is added on an error.
    pub fn append(
        &self,
        bytes: &[u8],
        cust: &mut Vec<f32>,
        agent: &mut Vec<f32>,
    ) -> Result<(), PartialFrame> {
        let width = self.check(bytes)?;
        let size = self.encoding.bytes();
        for f in bytes.chunks_exact(width) {
            let ch = |i: usize| self.encoding.decode(&f[i * size..]);
            cust.push(ch(self.customer));
            if self.channels == 2 {
                agent.push(ch(1 - self.customer));
            }
        }
        Ok(())
    }

    /// Bytes per frame, if `bytes` is whole frames.
    fn check(&self, bytes: &[u8]) -> Result<usize, PartialFrame> {
        let width = self.encoding.bytes() * self.channels;
        if bytes.len().is_multiple_of(width) {
            Ok(width)
        } else {
            Err(PartialFrame {
                got: bytes.len(),
                width,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_come_apart_by_layout() {
        let (mut c, mut a) = (Vec::new(), Vec::new());
        // Two stereo L16 frames: (1000, -1000), (2000, -2000), customer right.
        let bytes: Vec<u8> = [1000i16, -1000, 2000, -2000]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let right = Layout {
            encoding: Encoding::L16,
            channels: 2,
            customer: 1,
        };
        right.split(&bytes, &mut c, &mut a).unwrap_or_default();
        assert!(c[0] < 0.0 && a[0] > 0.0 && c.len() == 2 && a.len() == 2);
        // Mono mu-law: the customer alone.
        let mono = Layout {
            encoding: Encoding::Mulaw,
            channels: 1,
            customer: 0,
        };
        mono.split(&[0xff, 0x7f, 0x00], &mut c, &mut a)
            .unwrap_or_default();
        assert_eq!((c.len(), a.len()), (3, 0));
        // A torn frame is refused, and says what it got.
        assert_eq!(
            right.split(&bytes[..6], &mut c, &mut a),
            Err(PartialFrame { got: 6, width: 4 })
        );
        assert_eq!(c.len(), 3, "nothing written on an error");
    }
}
