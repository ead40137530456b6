#!/usr/bin/env bash
# Kaldi's yes/no recipe with a BiLSTM-CTC model: data -> fbank + CMVN -> tokens -> train -> decode -> score.
# Kaldi splits train = files 0_* (31), test = files 1_* (29); we hold out train's last 4 as dev.
# Units are whole words (YES, NO), as Kaldi's yesno lexicon has: every train file starts with NO and every test
# file with YES, and a test file opens with a clipped word; character units let that bias through (1-2% WER).
# Bad input never stops it: `asr data fix`, `asr feats` and `asr train` drop what they cannot use and list it
# in data/<set>/log/{fix,feats}_report.txt and exp/<tag>/log/{train,dev}_report.txt (--strict true: stop instead).
# Stages: recipes/stages.sh.
. "$(dirname "$0")/../../recipes/stages.sh"
opt strict false "true: bad input stops the run instead of being dropped"
recipe_start "$@"

train=train_nodev; dev=train_dev; eval_sets=test_yesno

stage_prep() {
  run python -m data_prep.yesno "${corpus_args[@]}" --data-dir data $(strict_flag)
  run asr data subset data/train_yesno data/$dev --last 4
  run asr data subset data/train_yesno data/$train --first 27
}
stage_feats() { local x; for x in $(feat_sets); do run asr data fix data/$x $(strict_flag); feats $x; done; }
stage_tokens() { run asr tokens data/$train --unit word --out $lang/tokens.txt; }
run_stages prep feats tokens train decode score
