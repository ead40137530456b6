#!/usr/bin/env bash
# Seed robustness of egs/yesno (issue #20): the recipe from scratch with seed 1, then its training, decoding and
# scoring again with seeds 2-5 and with seed 1 on two processes (`--nproc 2`, torchrun); one %WER line each.
# Runs in a scratch copy of the recipe (default: a new folder under $TMPDIR), so egs/yesno is left as it is.
#   scripts/yesno_seeds.sh [--dir DIR] [RECIPE OPTIONS, e.g. --corpus-dir /path/to/waves_yesno/..]
# Measured: 7 min on 2 shared cores at a load of ~5 (4 min of CPU); exits 1 unless every line is %WER 0.00.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=""
if [ "${1:-}" = --dir ]; then work=$2; shift 2; fi
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/yesno_seeds.XXXXXX")}
mkdir -p "$work/egs/yesno"
cp -r "$repo/egs/yesno/run.sh" "$repo/egs/yesno/conf" "$repo/egs/yesno/local" "$work/egs/yesno/"
ln -sfn "$repo/recipes" "$work/recipes"
cd "$work/egs/yesno"
train_stage=4  # run.sh: prep perturb feats tokens train decode score
status=0
wer() {  # wer NAME LOG: the test set's %WER line
  local line
  line=$(grep '^%WER' "$2" | grep decode_test_yesno || true)
  echo "$1: ${line:-no %WER line (see $2)}"
  case $line in "%WER 0.00 "*) ;; *) status=1 ;; esac
}
echo "yesno seeds in $work"
./run.sh "$@" --seed 1 > log_seed1.txt 2>&1 || true
wer "seed 1" log_seed1.txt
for s in 2 3 4 5; do
  ./run.sh "$@" --stage "$train_stage" --seed "$s" --tag "seed$s" > "log_seed$s.txt" 2>&1 || true
  wer "seed $s" "log_seed$s.txt"
done
./run.sh "$@" --stage "$train_stage" --seed 1 --nproc 2 --tag ddp > log_ddp.txt 2>&1 || true
wer "seed 1, --nproc 2" log_ddp.txt
exit $status
