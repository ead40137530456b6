#!/usr/bin/env bash
# Free Spoken Digit Dataset with a BiLSTM-CTC model: data -> speed perturbation -> fbank + CMVN -> tokens ->
# train -> checkpoint averaging -> decode -> score. dev = one held-out speaker (data_prep/fsdd.py), so its WER is
# speaker-independent; a sixth speaker in a full copy becomes `test`. Decoding (conf/decode.yaml): greedy (free
# spelling), lexicon-constrained (the ten digit words of the training text, no LM and no tuning: a
# closed-vocabulary grammar, as Kaldi's digit recipes use), and the same with each speaker's recordings decided
# together (lexicon_graph: asr.decoding.speaker_graph); the model keeps the best on dev. Stages: recipes/stages.sh.
. "$(dirname "$0")/../../recipes/stages.sh"
opt cell lstm "recurrent cell (docs/lstm.md)"
opt epochs "" "training epochs (default: the config's)"
opt avg 5 "average the N best epochs by dev loss (0: none)"
recipe_start "$@"

corpus=fsdd; train=train_sp; decoders=greedy,lexicon,lexicon_graph; about_tokens="output units and the word list"
title="FSDD: BiLSTM-CTC (characters), dev = one held-out speaker"

stage_tokens() {
  run asr tokens data/train --out $lang/tokens.txt
  mkdir -p data/local; cut -d' ' -f2- data/train/text | tr ' ' '\n' | sed '/^$/d' | sort -u > data/local/words.txt
}
run_stages prep perturb feats tokens train average decode score results
