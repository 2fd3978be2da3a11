"""Call-like fixtures and evaluation sets built from EmoDB (see tools/data/make_calls.py).

One concern per module:

- ``audio``: signal helpers and file writers (trim, resample, band-limit,
  noise, G.711 mu-law, WAV and Audacity label files).
- ``corpus``: the EmoDB clips, checked, trimmed and cached per sample rate.
- ``timeline``: utterances placed on a call's channels, rendered as the
  clean / AGC / mu-law / noisy variants, and their ``shout`` labels.
- ``fixtures``: the bundled scenario calls under ``fixtures/``.
- ``evalsets``: the speaker-split evaluation calls under ``out/eval/``.
- ``asterisk``: calm telephone prompts for false-alarm runs.
"""


class InputError(Exception):
    """Bad input (missing or malformed file): the message names the file and the problem."""
