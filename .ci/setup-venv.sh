#!/usr/bin/env bash
# Creates .venv with the outside references (Praat via parselmouth, pyloudnorm) and fixture tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
# Fail here, not halfway through a comparison, if a reference tool is unusable.
.venv/bin/python -c "import numpy, scipy, soundfile, parselmouth, pyloudnorm, opensmile, webrtc_noise_gain, pyspeex_noise"
