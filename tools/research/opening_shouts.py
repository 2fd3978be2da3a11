#!/usr/bin/env python3
"""Calls that open with shouting: how many are found.

Every run of `shout` labels (sentences less than 0.5 s apart) in the given
labelled folders is cut out (0.2 s before it, 0.5 s after) and replayed on
its own with the real `shoutcue replay`, so the call opens with the
shouting and no calm voice has been heard. Prints how many runs get a
customer `shout_start`. With the shipped model the priors never decide
(docs/EVALUATION.md), so this measures the cost of that rule.

    M=MODEL.json .venv/bin/python tools/research/opening_shouts.py target/release/shoutcue out/eval/heldout/clean out/eval/dev/clean
"""
import glob, json, subprocess, sys, tempfile, os
import soundfile as sf
bin_=sys.argv[1]; dirs=sys.argv[2:]
found=total=0; later=0
for d in dirs:
  for w in sorted(glob.glob(d+"/*.wav")):
    lab=[tuple(map(float,l.split('\t')[:2])) for l in open(w[:-4]+".txt") if l.strip().endswith('shout')]
    if not lab: continue
    x,r=sf.read(w)
    # each run of shouting (labels < 0.5 s apart) as the opening of a call
    runs=[]; 
    for a,b in lab:
      if runs and a-runs[-1][1]<0.5: runs[-1][1]=b
      else: runs.append([a,b])
    for a,b in runs:
      with tempfile.NamedTemporaryFile(suffix=".wav",delete=False) as f: p=f.name
      sf.write(p,x[int(max(0,a-0.2)*r):int((b+0.5)*r)],r,subtype='PCM_16')
      ev=[json.loads(l) for l in subprocess.run([bin_,"replay",p]+(["--model",os.environ["M"]] if os.environ.get("M") else []),capture_output=True,text=True).stdout.splitlines()]
      os.unlink(p); total+=1
      if any(e['type']=='shout_start' and e['speaker']=='customer' for e in ev): found+=1
print(f"{found} of {total} shouting runs found when the call opens with them")
