#!/usr/bin/env python3
"""Bundled recordings in the formats call recorders write besides WAV,
made from fixtures/mono_shout.wav (EmoDB speakers, CC0; see
fixtures/LICENSE-EmoDB.txt), for the reader's format tests:

  mono_shout.flac          whole call, lossless (events must equal the WAV's)
  mono_shout.mp3           whole call, 32 kbit/s CBR (lossy)
  mono_shout.ogg           whole call, Ogg Vorbis quality 2 (lossy)
  excerpt.aiff, excerpt.caf            4 s, 16-bit PCM (samples equal the WAV's)
  excerpt_ima.wav, excerpt_ms.wav      4 s, IMA and Microsoft ADPCM in WAV
  excerpt_gsm.wav                      1 s, GSM 6.10 in WAV (not read: the
                                       tests check the error names it)
  excerpt.au                           1 s, Sun .au mu-law

Needs sox (Debian) and the lameenc wheel (pip install lameenc) for MP3.
Run from the repository root: python3 tools/data/make_formats.py
"""
import subprocess
import wave
from pathlib import Path

import lameenc

src = Path("fixtures/mono_shout.wav")
out = Path("testdata/formats")
out.mkdir(parents=True, exist_ok=True)


def sox(*args):
    subprocess.run(["sox", *map(str, args)], check=True)


sox(src, "-C", "8", out / "mono_shout.flac")
sox(src, "-C", "2", out / "mono_shout.ogg")
with wave.open(str(src)) as w:
    assert w.getnchannels() == 1 and w.getsampwidth() == 2
    pcm = w.readframes(w.getnframes())
    rate = w.getframerate()
enc = lameenc.Encoder()
enc.set_bit_rate(32)
enc.set_in_sample_rate(rate)
enc.set_channels(1)
enc.set_quality(2)
(out / "mono_shout.mp3").write_bytes(enc.encode(pcm) + enc.flush())
excerpt = ["trim", "11", "4"]
sox(src, out / "excerpt.aiff", *excerpt)
sox(src, out / "excerpt.caf", *excerpt)
sox(src, "-e", "ima-adpcm", out / "excerpt_ima.wav", *excerpt)
sox(src, "-e", "ms-adpcm", out / "excerpt_ms.wav", *excerpt)
sox(src, "-e", "gsm-full-rate", out / "excerpt_gsm.wav", "trim", "11", "1")
sox(src, "-e", "mu-law", out / "excerpt.au", "trim", "11", "1")
for p in sorted(out.iterdir()):
    print(f"{p}: {p.stat().st_size} bytes")
