#!/usr/bin/env python3
"""Calm speech from many voices, cut into short calls that each start cold.

Every call opens the way a real call does: a voice the detector has never
heard, judged against the population priors until its own baseline exists.
So the calls here are short (about 30 s), and each is one opening: a cue on
any of them is a false alarm, counted per opening and per hour, per voice.

    .venv/bin/python tools/data/make_calm.py --out out/eval/calm

Sources (Debian packages; each voice is counted on its own):

  en       asterisk-core-sounds-en-wav     en_US_f_Allison     CC-BY-SA-3.0   dev
  fr       asterisk-core-sounds-fr-wav     fr_CA_f_June        CC-BY-SA-3.0   dev
  it       asterisk-prompt-it-menardi-wav  it_IT_f_Menardi     GPL-2
  it_m     asterisk-core-sounds-it-wav     it_IT_m_Carlo       CC-BY-SA-3.0   (a man)
  es       asterisk-prompt-es-co (GSM)     es (Colombia)       GPL-2
  es_mx    asterisk-core-sounds-es-wav     es_MX_f_Allison     CC-BY-SA-3.0   (en's speaker, in Spanish)
  ru       asterisk-core-sounds-ru-wav     ru_RU_f_IvrvoiceRU  CC-BY-SA-3.0
  fr_fr    asterisk-prompt-fr-armelle (GSM) fr (Armelle)       GPL-2
  codec2   codec2-examples /usr/share/codec2/wav (several voices, radio) LGPL-2.1
  librivox pocketsphinx-testdata librivox (one reader, read speech)   BSD-style
  pyannote the two-party phone call in the pyannote.audio wheel (PyPI),
           pyannote/audio/sample/sample.wav, cut by its sample.rttm into
           one call per speaker (two women, natural conversation)      MIT

"dev" voices are the ones `shoutcue train --calm` may look at
(models/shout-v1.json, provenance); every other voice is held out and
only scored. Nothing here is committed: the calls are built on each machine
from the installed packages (licences in /usr/share/doc/<package>/copyright)
and the wheel PyPI serves (its LICENSE: MIT).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calls import InputError  # noqa: E402
from calls.audio import fade, gate_bounds, resample, write_labels, write_pcm16  # noqa: E402

RATE = 8000
CALL_S = 30.0
PAUSE_S = (0.5, 1.0)
LEAD_S = 0.5
SEED = 20261203
#: Not calm speech: left out, and said so in the manifest.
NOT_CALM = {"tt-monkeys.wav": "screeching monkeys, not speech",
            "wia_16kHz.wav": "one second test clip",
            "all.wav": "the other codec2 clips again, concatenated"}

VOICES = {
    "en": ("/usr/share/asterisk/sounds/en_US_f_Allison", "asterisk-core-sounds-en-wav", "CC-BY-SA-3.0"),
    "fr": ("/usr/share/asterisk/sounds/fr_CA_f_June", "asterisk-core-sounds-fr-wav", "CC-BY-SA-3.0"),
    "it": ("/usr/share/asterisk/sounds/it_IT_f_Menardi", "asterisk-prompt-it-menardi-wav", "GPL-2"),
    "it_m": ("/usr/share/asterisk/sounds/it_IT_m_Carlo", "asterisk-core-sounds-it-wav", "CC-BY-SA-3.0"),
    "es": ("/usr/share/asterisk/sounds/es", "asterisk-prompt-es-co", "GPL-2"),
    "es_mx": ("/usr/share/asterisk/sounds/es_MX_f_Allison", "asterisk-core-sounds-es-wav", "CC-BY-SA-3.0"),
    "ru": ("/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU", "asterisk-core-sounds-ru-wav", "CC-BY-SA-3.0"),
    "fr_fr": ("/usr/share/asterisk/sounds/fr", "asterisk-prompt-fr-armelle", "GPL-2"),
    "codec2": ("/usr/share/codec2/wav", "codec2-examples", "LGPL-2.1"),
    "librivox": ("/usr/share/pocketsphinx/test/data/librivox", "pocketsphinx-testdata", "BSD-2-Clause (CMU)"),
    "pyannote": ("pyannote.audio==4.0.7 (PyPI wheel)", "pyannote.audio", "MIT"),
}
#: The voices `train --calm` may see; the others are held out.
DEV_VOICES = ("en", "fr")
PYANNOTE = "pyannote.audio==4.0.7"


def read_any(p: Path, tmp: Path) -> tuple[np.ndarray, int]:
    """A prompt as mono float: WAV through libsndfile, GSM 6.10 through sox."""
    if p.suffix == ".gsm":
        w = tmp / (p.stem + ".wav")
        subprocess.run(["sox", str(p), "-e", "signed-integer", "-b", "16", str(w)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        p = w
    x, rate = sf.read(str(p), dtype="float64", always_2d=True)
    return x.mean(axis=1), rate


def build_pyannote(out: Path, cache: Path) -> dict:
    """One call per speaker of the wheel's sample: the other speaker's turns
    (and any overlap) are silenced, so each call is one voice from a cold
    start, with the conversation's own timing."""
    wheel_dir = cache / "pyannote-wheel"
    wheels = sorted(wheel_dir.glob("pyannote_audio-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), PYANNOTE],
                           capture_output=True, text=True)
        wheels = sorted(wheel_dir.glob("pyannote_audio-*.whl"))
        if r.returncode != 0 or not wheels:
            raise InputError(f"pip download {PYANNOTE}: failed ({r.stderr.strip()[-300:]})")
    with zipfile.ZipFile(wheels[-1]) as z:
        try:
            wav = z.read("pyannote/audio/sample/sample.wav")
            rttm = z.read("pyannote/audio/sample/sample.rttm").decode()
        except KeyError as err:
            raise InputError(f"{wheels[-1]}: no sample ({err})") from err
    x, rate = sf.read(io.BytesIO(wav), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    turns: dict[str, list[tuple[int, int]]] = {}
    for line in rttm.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            a = int(round(float(f[3]) * rate))
            turns.setdefault(f[7], []).append((a, a + int(round(float(f[4]) * rate))))
    entries, total = [], 0.0
    for i, (who, mine) in enumerate(sorted(turns.items()), start=1):
        keep = np.zeros(len(x), dtype=bool)
        for a, b in mine:
            keep[a:b] = True
        for other, spans in turns.items():
            if other != who:
                for a, b in spans:
                    keep[a:b] = False
        y = resample(np.where(keep, x, 0.0), rate, RATE)
        path = out / "pyannote" / f"pyannote_{i:03d}.wav"
        write_pcm16(path, y, RATE)
        write_labels(path.with_suffix(".txt"), [])
        total += len(y) / RATE
        entries.append(path.name)
    return {"source": f"{wheels[-1].name}: pyannote/audio/sample/sample.wav, one call per speaker of sample.rttm",
            "package": VOICES["pyannote"][1], "licence": VOICES["pyannote"][2], "prompts": len(turns),
            "excluded": {}, "calls": len(entries), "minutes": round(total / 60, 2)}


def build(name: str, root: Path, out: Path) -> dict:
    """Writes out/<name>/<name>_<n>.wav (+ empty .txt); returns the manifest entry."""
    files = sorted(q for q in root.rglob("*") if q.suffix in (".wav", ".gsm") and q.is_file())
    if not files:
        raise InputError(f"{root}: no prompts (apt-get install -y {VOICES[name][1]})")
    rng = np.random.default_rng([SEED, sum(map(ord, name))])
    prompts, excluded = [], {}
    with tempfile.TemporaryDirectory() as t:
        for p in files:
            if p.name in NOT_CALM:
                excluded[p.name] = NOT_CALM[p.name]
                continue
            try:
                x, rate = read_any(p, Path(t))
            except Exception as err:  # sox and libsndfile raise several types
                raise InputError(f"{p}: cannot read ({err})") from err
            if not np.any(x):
                continue
            a, b = gate_bounds(x, rate)
            if b - a < 0.2 * rate:
                continue
            prompts.append(fade(resample(x[a:b], rate, RATE), RATE))
    calls, cur, cur_s = [], [], 0.0
    for y in prompts:
        pause = LEAD_S if not cur else rng.uniform(*PAUSE_S)
        cur += [np.zeros(int(round(pause * RATE))), y]
        cur_s += pause + len(y) / RATE
        if cur_s >= CALL_S:
            calls.append(cur)
            cur, cur_s = [], 0.0
    if cur and (cur_s >= CALL_S / 3 or not calls):
        calls.append(cur)
    entries, total = [], 0.0
    for i, parts in enumerate(calls, start=1):
        x = np.concatenate(parts + [np.zeros(int(LEAD_S * RATE))])
        path = out / name / f"{name}_{i:03d}.wav"
        write_pcm16(path, x, RATE)
        write_labels(path.with_suffix(".txt"), [])
        total += len(x) / RATE
        entries.append(path.name)
    return {"source": str(root), "package": VOICES[name][1], "licence": VOICES[name][2],
            "prompts": len(prompts), "excluded": excluded, "calls": len(entries),
            "minutes": round(total / 60, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/eval/calm"))
    ap.add_argument("--cache", type=Path, default=Path("out/cache"), help="where the pyannote wheel is kept")
    ap.add_argument("--voices", default=",".join(VOICES), help="comma-separated: " + ",".join(VOICES))
    a = ap.parse_args()
    manifest = {}
    try:
        for name in a.voices.split(","):
            if name not in VOICES:
                raise InputError(f"unknown voice {name!r}; known: {', '.join(VOICES)}")
            if name == "pyannote":
                manifest[name] = build_pyannote(a.out, a.cache)
            else:
                manifest[name] = build(name, Path(VOICES[name][0]), a.out)
            manifest[name]["held_out"] = name not in DEV_VOICES
            m = manifest[name]
            print(f"{name}: {m['calls']} calls, {m['minutes']} min from {m['prompts']} prompts ({m['package']})")
    except (InputError, subprocess.CalledProcessError) as err:
        print(f"make_calm: {err}", file=sys.stderr)
        return 1
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
