"""Signal helpers and file writers. Pure functions on float64 arrays in [-1, 1]."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

#: Frame of the energy gate used to trim clips, seconds.
GATE_FRAME_S = 0.010
#: A frame is speech when its energy is within this many dB of the clip's loudest frame.
GATE_RANGE_DB = 35.0
#: Kept around the gated speech so soft onsets and releases survive, seconds.
GATE_PAD_S = 0.030
#: Raised-cosine fade at both ends of every placed piece, so nothing clicks.
FADE_S = 0.010


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def rms_db(x: np.ndarray) -> float:
    r = rms(x)
    return 20.0 * np.log10(r) if r > 0 else float("-inf")


def gate_bounds(x: np.ndarray, rate: int) -> tuple[int, int]:
    """Sample range [start, end) of the speech in ``x`` by a simple energy gate.

    EmoDB clips are padded or cut to exactly 2.0 s; this finds the first and
    last 10 ms frames within ``GATE_RANGE_DB`` of the loudest one and keeps
    ``GATE_PAD_S`` around them.
    """
    hop = max(1, int(round(GATE_FRAME_S * rate)))
    n = len(x) // hop
    if n == 0:
        return 0, len(x)
    e = np.mean(np.square(x[: n * hop].reshape(n, hop)), axis=1)
    e_db = 10.0 * np.log10(e + 1e-20)
    on = np.flatnonzero(e_db > e_db.max() - GATE_RANGE_DB)
    pad = int(round(GATE_PAD_S * rate))
    start = max(0, on[0] * hop - pad)
    end = min(len(x), (on[-1] + 1) * hop + pad)
    return int(start), int(end)


def fade(x: np.ndarray, rate: int, fade_s: float = FADE_S) -> np.ndarray:
    """Raised-cosine fade in and out (copy)."""
    y = np.array(x, dtype=np.float64)
    n = min(int(round(fade_s * rate)), len(y) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (scipy's Kaiser-windowed FIR, zero-phase, so labels stay put)."""
    if rate_in == rate_out:
        return np.array(x, dtype=np.float64)
    g = np.gcd(rate_in, rate_out)
    return signal.resample_poly(x, rate_out // g, rate_in // g)


def telephone_band(x: np.ndarray, rate: int, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """Band-limit to the telephone band with a zero-phase 4th-order Butterworth band-pass.

    Zero-phase (forward-backward) so the labels still line up with the speech.
    Works on the last axis.
    """
    sos = signal.butter(4, [low, high], btype="bandpass", fs=rate, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1)


#: The real AGCs run at 16 kHz on 10 ms frames of 16-bit PCM.
AGC_RATE = 16000
#: WebRTC AGC (webrtc-noise-gain: the gain controller of WebRTC's audio
#: processing module, adaptive digital mode as browsers and softphones run
#: it): target level 3 dB below full scale, its usual setting; noise
#: suppression off, so only the gain acts.
WEBRTC_TARGET_DBFS = 3
#: Speex's AGC (pyspeex-noise: speex_preprocess): target RMS 8000 of 32768
#: (speex's own default level); its noise suppression set to 0 dB.
SPEEX_TARGET = 8000.0


def real_agc(x: np.ndarray, rate: int, kind: str) -> np.ndarray:
    """``x`` (one channel, float, full scale 1) through a real AGC library.

    ``kind`` is ``"webrtc"`` or ``"speex"``. The signal is resampled to 16 kHz,
    processed in 10 ms frames with the library's state carried across the
    call, and resampled back to ``rate``. The libraries are imported here, so
    other tools do not need them (tools/requirements.txt pins both).
    """
    y = resample(x, rate, AGC_RATE)
    n = len(y)
    pad = (-n) % 160
    q, _ = to_int16(np.concatenate([y, np.zeros(pad)]))
    if kind == "webrtc":
        from webrtc_noise_gain import AudioProcessor  # noqa: PLC0415

        ap = AudioProcessor(WEBRTC_TARGET_DBFS, 0)
        step = lambda b: ap.Process10ms(b).audio  # noqa: E731
    elif kind == "speex":
        from pyspeex_noise import AudioProcessor as SpeexProcessor  # noqa: PLC0415

        sp = SpeexProcessor(SPEEX_TARGET, 0)
        step = lambda b: sp.Process10ms(b).audio  # noqa: E731
    else:
        raise ValueError(f"unknown AGC {kind!r}; expected webrtc or speex")
    raw = q.astype("<i2").tobytes()
    out = b"".join(step(raw[i:i + 320]) for i in range(0, len(raw), 320))
    z = np.frombuffer(out, dtype="<i2").astype(np.float64)[:n] / 32768.0
    return resample(z, AGC_RATE, rate)


def pitch_shift(x: np.ndarray, rate: int, cents: float) -> np.ndarray:
    """``x`` (one channel) with pitch and formants moved by ``cents``, the
    duration kept (sox's ``pitch`` effect: WSOLA, then resampling), so the
    labels stay put: a higher or lower voice with a shorter or longer
    vocal tract, the augmentation of more voices from the same speakers."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as t:
        src, dst = Path(t) / "in.wav", Path(t) / "out.wav"
        sf.write(str(src), x, rate, subtype="FLOAT")
        subprocess.run(["sox", str(src), str(dst), "pitch", f"{cents:.0f}"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        y, r = sf.read(str(dst), dtype="float64")
    if r != rate:
        raise ValueError(f"sox pitch: got {r} Hz, expected {rate}")
    n = len(x)
    return np.concatenate([y, np.zeros(max(0, n - len(y)))])[:n]


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary pink (1/f power) Gaussian noise, unit RMS.

    Pink rather than white: background noise on calls (rooms, traffic, line
    hiss after the codec) falls off with frequency, and white noise would
    unfairly flatten the spectral tilt the detector relies on.
    """
    if n == 0:
        return np.zeros(0)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[0] = 0.0
    y = np.fft.irfft(spec, n)
    return y / rms(y)


# --- G.711 mu-law -----------------------------------------------------------
# Hand-rolled on purpose: Python's audioop is deprecated (gone in 3.13) and
# libsndfile picks its own header layout, while these files must have exactly
# the shape of recorded calls (fmt chunk of 18 bytes with cbSize 0, plus a
# fact chunk). The codec is the G.711 reference algorithm, vectorised; it was
# checked bit-exact against audioop over all 65536 int16 values.

_MULAW_BIAS = 0x84


def mulaw_encode(x16: np.ndarray) -> np.ndarray:
    """Encode int16 samples to G.711 mu-law bytes (uint8).

    Bit-exact with the classic Sun/CCITT reference (g711.c, as in audioop
    and SoX): 14-bit magnitude, bias 33, segment and 4-bit mantissa.
    """
    pcm = np.asarray(x16, dtype=np.int32) >> 2
    neg = pcm < 0
    mag = np.minimum(np.where(neg, -pcm, pcm), 8159) + (_MULAW_BIAS >> 2)
    seg = np.floor(np.log2(mag)).astype(np.int32) - 5
    uval = np.where(seg > 7, 0x7F, (np.clip(seg, 0, 7) << 4) | ((mag >> (np.clip(seg, 0, 7) + 1)) & 0x0F))
    return (uval ^ np.where(neg, 0x7F, 0xFF)).astype(np.uint8)


def mulaw_decode(b: np.ndarray) -> np.ndarray:
    """Decode G.711 mu-law bytes to int16 samples."""
    u = (~np.asarray(b, dtype=np.int32)) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype(np.int16)


def to_int16(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Float [-1, 1] to int16 with rounding; returns the samples and how many were clipped."""
    y = np.round(np.asarray(x) * 32767.0)
    clipped = int(np.count_nonzero(np.abs(y) > 32767))
    return np.clip(y, -32768, 32767).astype(np.int16), clipped


def _frames(x: np.ndarray) -> np.ndarray:
    """(channels, n) or (n,) to interleaved (n, channels)."""
    x = np.asarray(x)
    return x[:, None] if x.ndim == 1 else x.T


def write_pcm16(path: Path, x: np.ndarray, rate: int) -> int:
    """Write a 16-bit PCM WAV with libsndfile; ``x`` is (n,) or (channels, n). Returns clipped samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    q, clipped = to_int16(_frames(x))
    sf.write(str(path), q, rate, subtype="PCM_16", format="WAV")
    return clipped


def write_mulaw_wav(path: Path, x: np.ndarray, rate: int) -> int:
    """Write a G.711 mu-law WAV (format tag 7) with a hand-made header.

    RIFF layout: ``fmt `` chunk of 18 bytes (cbSize = 0), ``fact`` chunk with
    the frame count (required for non-PCM formats), ``data`` chunk of one
    byte per sample, interleaved. Returns clipped samples.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = _frames(x)
    q, clipped = to_int16(frames)
    n_frames, channels = q.shape
    data = mulaw_encode(q.reshape(-1)).tobytes()
    fmt = struct.pack("<HHIIHHH", 7, channels, rate, rate * channels, channels, 8, 0)
    fact = struct.pack("<I", n_frames)
    pad = b"\x00" if len(data) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"fact" + struct.pack("<I", len(fact)) + fact
        + b"data" + struct.pack("<I", len(data)) + data + pad
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return clipped


def read_wav_chunks(path: Path) -> dict[str, bytes]:
    """The RIFF chunks of a WAV file by id (for checking headers we wrote)."""
    raw = Path(path).read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    chunks, pos = {}, 12
    while pos + 8 <= len(raw):
        cid = raw[pos : pos + 4].decode("ascii", "replace")
        size = struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        chunks[cid] = raw[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return chunks


def write_labels(path: Path, spans: list[tuple[float, float, str]]) -> None:
    """Audacity label track: ``start<TAB>end<TAB>label`` per line, seconds with 6 decimals."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{s:.6f}\t{e:.6f}\t{lab}\n" for s, e, lab in spans))
