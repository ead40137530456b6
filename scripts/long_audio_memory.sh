#!/usr/bin/env bash
# Peak memory and speed of `asr transcribe` on one long recording, and whether its words survive chunking.
#
#   scripts/long_audio_memory.sh MODEL [MINUTES=30] [RATE=44100]
#
# Builds a MINUTES-long WAV at RATE Hz (resampled: the transcriber must resample it back) from the yesno
# recordings, one after another with 1 s of silence between, in a scratch dir; runs
#   /usr/bin/time -v asr transcribe MODEL long.wav --format json
# and prints the peak resident memory, the real-time factor, and the words compared with the known transcripts.
set -euo pipefail
model=${1:?usage: $0 MODEL [MINUTES] [RATE]}
minutes=${2:-30}
rate=${3:-44100}
here=$(cd "$(dirname "$0")/.." && pwd)
corpora=${ASR_CORPORA:-$here/../shared/corpora}
waves=$corpora/yesno/waves_yesno
[ -d "$waves" ] || { echo "$0: no yesno corpus at $waves (set ASR_CORPORA)" >&2; exit 1; }
python=${PYTHON:-$here/.venv/bin/python}
asr=${ASR:-$here/.venv/bin/asr}
tmp=$(mktemp -d)
trap "rm -rf \"$tmp\"" EXIT

"$python" - "$waves" "$tmp" "$minutes" "$rate" <<'EOF'
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import load_audio

waves, out, minutes, rate = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
files = sorted(waves.glob("*.wav"))
silence = np.zeros(rate, dtype=np.float32)
words, seconds = [], 0.0
with sf.SoundFile(out / "long.wav", "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
    while seconds < minutes * 60:
        for path in files:
            x = load_audio(str(path), rate)
            f.write(x)
            f.write(silence)
            words += ["YES" if c == "1" else "NO" for c in path.stem.split("_")]
            seconds += len(x) / rate + 1.0
            if seconds >= minutes * 60:
                break
(out / "words.txt").write_text(" ".join(words) + "\n")
print(f"built {seconds / 60:.1f} min at {rate} Hz: {len(words)} words")
EOF

/usr/bin/time -v "$asr" transcribe "$model" "$tmp/long.wav" --format json --verbose --no-progress \
  > "$tmp/out.json" 2> "$tmp/time.txt" || { cat "$tmp/time.txt" >&2; exit 1; }
grep -E "^asr: .*RTF" "$tmp/time.txt" | head -1
awk -F': ' '/Maximum resident set size/ {printf "peak memory: %.0f MB (%s kB)\n", $2 / 1024, $2}
            /Elapsed \(wall clock\)/ {print "wall clock: " $2}' "$tmp/time.txt"
"$python" - "$tmp/out.json" "$tmp/words.txt" <<'EOF'
import json
import sys

from asr.scoring.align import count_errors

got = [w["word"] for w in json.load(open(sys.argv[1]))["words"]]
want = open(sys.argv[2]).read().split()
c = count_errors(want, got)
print(f"words: {len(got)} recognised, {len(want)} spoken: {c.sub} substituted, {c.dels} lost, {c.ins} inserted "
      f"(WER {100 * c.rate:.2f}%)")
EOF
