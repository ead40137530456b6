#!/usr/bin/env bash
# Issue 15, done-when 2: AN4's training audio as a Common Voice release (MP3, 48 kHz, mixed-case punctuated text,
# hashed client_ids; scripts/an4_as_commonvoice.py) through egs/custom/run.sh, against egs/an4/run.sh --unit char
# on the same dev speakers, with the same training config. Both recipes run in scratch copies under WORK.
#
#   scripts/custom_vs_an4.sh WORK [CONF [EPOCHS]]
#
# CONF (default egs/an4/conf/train.yaml, which is egs/custom/conf/train_small.yaml, the one custom picks for AN4's
# 0.63 h) and EPOCHS (default the config's) are given to both: a reduced budget stays equal. The two run at the
# same time (2 feature jobs each). Last lines: each recipe's dev %WER per decoder, then the relative differences.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "$1" && cd "$1" && pwd); conf=$(realpath "${2:-$repo/egs/an4/conf/train.yaml}"); epochs=${3:-}
an4=${ASR_CORPORA:-$repo/../shared/corpora}/an4
export PATH="$repo/.venv/bin:$PATH" PYTHONPATH="$repo" OMP_NUM_THREADS=1
[ -d "$work/an4_cv/clips" ] || python "$repo/scripts/an4_as_commonvoice.py" "$an4" "$work/an4_cv" --nj 2
mkdir -p "$work/repo/egs"; ln -sfn "$repo/recipes" "$work/repo/recipes"
for r in an4 custom; do
  rm -rf "${work:?}/repo/egs/$r"; cp -r "$repo/egs/$r" "$work/repo/egs/$r"
  rm -rf "$work/repo/egs/$r"/{data,exp,fbank}; cp "$conf" "$work/repo/egs/$r/conf/compare.yaml"
done
opts=(--conf conf/compare.yaml ${epochs:+--epochs "$epochs"})
(cd "$work/repo/egs/an4" && bash run.sh --corpus-dir "$an4" --unit char "${opts[@]}" > run.out 2> run.err) &
(cd "$work/repo/egs/custom" && bash run.sh --train "$work/an4_cv/train.tsv" --dev "$work/an4_cv/dev.tsv" \
  --unit char "${opts[@]}" > run.out 2> run.err) &
wait %1 || { tail -20 "$work/repo/egs/an4/run.err"; exit 1; }
wait %2 || { tail -20 "$work/repo/egs/custom/run.err"; exit 1; }
grep '^%WER' "$work/repo/egs/an4/run.out" | sed 's/^/an4:    /'
grep '^%WER' "$work/repo/egs/custom/run.out" | sed 's/^/custom: /'
for d in greedy beam lm; do
  a=$(awk '/^%WER/ && /decode_dev_'$d'$/ {print $2}' "$work/repo/egs/an4/run.out")
  c=$(awk '/^%WER/ && /decode_dev_'$d'$/ {print $2}' "$work/repo/egs/custom/run.out")
  awk -v a="$a" -v c="$c" -v d="$d" 'BEGIN {printf "dev %s: an4 %.2f, custom %.2f, custom/an4 - 1 = %+.1f%%\n", d, a, c, (a > 0 ? 100 * (c / a - 1) : 0)}'
done
