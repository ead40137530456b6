#!/usr/bin/env bash
# Kaldi's yes/no recipe with a BiLSTM-CTC model: data -> fbank + CMVN -> tokens -> train -> decode -> score.
# Kaldi splits train = files 0_* (31), test = files 1_* (29); we hold out train's last 4 as dev.
# Units are whole words (YES, NO), as Kaldi's yesno lexicon has: every train file starts with NO and every test
# file with YES, and a test file opens with a clipped word; character units let that bias through (1-2% WER).
# Training (data/train_crops) adds to each train file up to two copies that start later, at or just before the
# end of one of its words (local/crops.py), so the model sees sentences open with either word or with a clipped
# tail; conf/fbank.yaml's dither is a noise floor that hides the background level (issue #20).
# Bad input never stops it: `asr data fix`, `asr feats` and `asr train` drop what they cannot use and list it
# in data/<set>/log/{fix,feats}_report.txt and exp/<tag>/log/{train,dev}_report.txt (--strict true: stop instead).
# Stages: recipes/stages.sh.
. "$(dirname "$0")/../../recipes/stages.sh"
opt strict false "true: bad input stops the run instead of being dropped"
opt avg 4 "average N epochs (0: none; which: --avg-by)"
opt avg_by last "which epochs --avg averages: the last N (last) or the best N by dev loss (best)"
recipe_start "$@"

train=train_crops; dev=train_dev; eval_sets=test_yesno; screened_sets=train_nodev

stage_prep() {
  run python -m data_prep.yesno "${corpus_args[@]}" --data-dir data $(strict_flag)
  run asr data subset data/train_yesno data/$dev --last 4
  # the rest (27 of the official 31; fewer when a recording was dropped), so train and dev never share one
  run asr data subset data/train_yesno data/train_nodev --first $(( $(wc -l < data/train_yesno/utt2spk) - 4 ))
}
about_crops="train and its start-cropped copies (local/crops.py)"
stage_crops() {
  run asr data fix data/train_nodev $(strict_flag)
  run python local/crops.py data/train_nodev data/$train
}
stage_feats() { local x; for x in $(feat_sets); do run asr data fix data/$x $(strict_flag); feats $x; done; }
stage_tokens() { run asr tokens data/$train --unit word --out $lang/tokens.txt; }
run_stages prep crops feats tokens train average decode score
