#!/usr/bin/env bash
# CMU AN4 with a BiLSTM-CTC model: data -> speed perturbation -> fbank + CMVN -> units -> word 3-gram LM and a
# letter 5-gram spelling LM -> train (SpecAugment) -> checkpoint averaging -> decode (greedy, prefix beam, lexicon
# + LM, its N best rescored) -> score -> RESULTS.
# Splits (data_prep/an4.py): train 850 / dev 98 (8 held-out speakers) / test 130 (only when the corpus has it).
# The LM weight and word score are tuned on dev (a grid, as Kaldi's scoring) and then applied to test.
# Units (--unit): phone (an4.dic through the lexicon, as EESEN) had the lowest dev WER, so it is the default;
# char and bpe also decode greedy and with prefix beam search (NOTES.md, RESULTS.md). Phones give words only
# through the lexicon decoder. Decoders: conf/decode.yaml. Stages: recipes/stages.sh.
# Three models (seeds S, S+3, S+6) train at once, one core's worth each, and decode as one: the lexicon + LM
# search's 20 best of each, ranked by the three models' mean CTC log-likelihood (`asr ensemble --combine
# sequence`; NOTES.md "Sequence-level combination"). --ensemble 1: one model, exp/<tag>/ave_5.
. "$(dirname "$0")/../../recipes/stages.sh"
opt tag "" "the experiment: exp/<tag> (default bilstm_ctc_<unit>, _<cell> unless lstm)"
opt unit phone "output units: phone, char or bpe"
opt cell lstm "recurrent cell (docs/lstm.md)"
opt epochs "" "training epochs (default: the config's)"
opt avg 5 "average the N best epochs by dev loss (0: none)"
opt ensemble 3 "train N models (seeds seed, seed+N, ...: exp/<tag>/seed<S>) and decode them as one (--combine)"
opt bpe_size 100 "bpe: vocabulary size"
opt lm_order 3 "word n-gram order"
opt spell_order 5 "letter n-gram order of the spelling LM, which ranks spelled words in rescoring (0: none)"
opt results RESULTS.md "the results file"
opt notes "" "Markdown for RESULTS.md's Notes section (--stage 9 --notes F adds it later, the stage times kept)"
opt compare "" "more exp dirs for RESULTS.md's tables"
recipe_start "$@"

corpus=an4; train=train_sp; lang=data/lang_$unit; lexicon=data/local/dict/lexicon.txt
lm=data/local/lm/${lm_order}gram.arpa; decode_opts=(--set lm.lm=$lm)
spell_lm=data/local/lm/spell_${spell_order}gram.arpa
[ "$spell_order" = 0 ] || decode_opts+=(--set lm.spell_lm=$spell_lm)
tag=${tag:-bilstm_ctc_$unit$([ "$cell" = lstm ] || echo "_$cell")}
decoders=$(if [ "$unit" = phone ]; then echo lm; else echo greedy,beam,lm; fi)
title="AN4: BiLSTM-CTC ($unit units)"; about_tokens="output units ($unit)"
about_lm="word ${lm_order}-gram LM from the training text$([ "$spell_order" = 0 ] ||
  echo ", letter ${spell_order}-gram spelling LM from word lists and the text's spelled words")"

stage_tokens() {
  run asr tokens data/train --out $lang/tokens.txt --unit "$unit" --bpe-size "$bpe_size" --lexicon $lexicon
}
stage_lm() {
  run asr lm data/local/lm_train.txt --out $lm --order "$lm_order" --lexicon $lexicon
  if [ "$spell_order" != 0 ]; then spelling_lm data/local/lm_train.txt "$spell_order" $spell_lm; fi
}
run_stages prep perturb feats tokens lm train average decode score results
