#!/usr/bin/env bash
# Spoken digits for unseen voices: one BiLSTM-CTC model trained on FSDD's four training speakers plus AN4's 74
# (census words, digits and letters), features at 16 kHz (80 mel bins: AN4's band kept; FSDD's 8 kHz audio is
# upsampled by `asr feats`, its upper band empty), phone units through AN4's lexicon (an4.dic covers ZERO..NINE),
# normalised by each speaker's mean and variance (cmn: speaker_mv; `asr transcribe exp/model FOLDER` takes the
# folder as one speaker). Data: FSDD train speed-perturbed (0.9/1.0/1.1) and repeated --fsdd-repeat times, AN4
# train speed-perturbed too (--an4-sp false: not) plus a narrowband copy of it (`asr data resample` to 8 kHz:
# AN4's 74 voices as FSDD's band sounds them; --an4-nb false: not), combined by `asr data combine`; dev loss (for
# the best epochs) is over both dev sets. Decoding: FSDD dev (the held-out speaker yweweler) with a lexicon of the
# ten digit words and no LM (the digits task), each recording alone (`digits`) and each speaker's recordings
# decided together (`digits_graph`: the model's word probabilities spread over the recordings that sound alike,
# asr.decoding.speaker_graph; 6.6-9.8 -> 0.4-5.4, NOTES.md); the model dir keeps the better on FSDD dev. AN4 dev
# with AN4's lexicon + word 3-gram LM tuned on it, its 20 best rescored with the spelling LM for AN4's spelled words as egs/an4 does (is AN4
# still as good as egs/an4?). NOTES.md: what each piece buys. --ensemble N (the template's): N seeds trained at once
# and decoded as one (seeds 1-3 combined: FSDD dev 5.2-5.4 against 6.6-6.8 each, three times the training; NOTES.md).
# Corpora: --corpus-dir DIR holds fsdd/ and an4/ (default $ASR_CORPORA), or --fsdd-dir / --an4-dir each.
. "$(dirname "$0")/../../recipes/stages.sh"
opt fsdd_dir "" "FSDD root (default: <corpus-dir>/fsdd, \$ASR_CORPORA/fsdd, else download)"
opt an4_dir "" "AN4 root (default: <corpus-dir>/an4, \$ASR_CORPORA/an4, else download)"
opt an4 true "train on AN4 too (false: FSDD alone, for comparison)"
opt fsdd_repeat 1 "copies of FSDD's train_sp in the training set (oversampling the smaller corpus)"
opt an4_sp true "speed-perturb AN4's training set too (3x its frames; FSDD dev 8.73 -> 7.27, NOTES.md)"
opt an4_nb true "add a narrowband copy of AN4's training set (resampled to 8 kHz; mixed-bandwidth training, NOTES.md)"
opt epochs "" "training epochs (default: the config's)"
opt avg 5 "average the N best epochs by dev loss (0: none)"
opt spell_order 5 "AN4's decode: letter n-gram order of the spelling LM for spelled words (0: none)"
opt results RESULTS.md "the results file"
opt notes "" "Markdown for RESULTS.md's Notes section (--stage 9 --notes F adds it later, the stage times kept)"
recipe_start "$@"

train=train; dev=dev; eval_sets="fsdd_dev an4_dev"; lang=data/lang; lexicon=data/local/dict/lexicon.txt
lm=data/local/lm/3gram.arpa; decoders=digits,digits_graph
about_decode="decoding: FSDD dev (digits, alone and by speaker), AN4 dev (lexicon + LM)"
title="Digits: FSDD + AN4, BiLSTM-CTC (phones), FSDD dev = one held-out speaker"
about_prep="data preparation (FSDD, AN4)"
about_perturb="speed perturbation 0.9/1.0/1.1 of FSDD$([ "$an4" = true ] && [ "$an4_sp" = true ] && echo " and AN4") train$([ "$an4" = true ] && [ "$an4_nb" = true ] && echo ", AN4 train at 8 kHz"); combine the corpora"
about_tokens="phone units and the digit lexicon"
about_lm="AN4's word 3-gram LM$([ "$spell_order" = 0 ] || echo " and letter ${spell_order}-gram spelling LM")"
spell_lm=data/local/lm/spell_${spell_order}gram.arpa

corpus_arg() {  # corpus_arg NAME DIR: the --corpus-dir of one corpus
  if [ -n "$2" ]; then echo "--corpus-dir $(cd "$start_dir" && realpath -m "$2")"
  elif [ -n "$corpus_dir" ]; then echo "--corpus-dir $corpus_dir/$1"; fi
}
stage_prep() {  # data/fsdd/{train,dev}, data/an4/{train,dev,local} (a test may write these itself, then --stage 1)
  run python -m data_prep.fsdd $(corpus_arg fsdd "$fsdd_dir") --data-dir data/fsdd $(strict_flag)
  run python -m data_prep.an4 $(corpus_arg an4 "$an4_dir") --data-dir data/an4 $(strict_flag)
}
stage_perturb() {  # data/train (the corpora combined), data/dev (both dev sets: the dev loss), the sets decoded
  local sources=(data/fsdd/train_sp:$fsdd_repeat)
  rm -rf data/train data/dev data/fsdd_dev data/an4_dev data/local/dict data/local/lm_train.txt; mkdir -p data/local
  cp -r data/fsdd/dev data/fsdd_dev; cp -r data/an4/dev data/an4_dev
  cp -r data/an4/local/dict data/local/dict; cp data/an4/local/lm_train.txt data/local/lm_train.txt
  run asr data perturb-speed data/fsdd/train data/fsdd/train_sp --factors 0.9,1.0,1.1
  if [ "$an4" = true ]; then
    if [ "$an4_sp" = true ]; then
      run asr data perturb-speed data/an4/train data/an4/train_sp --factors 0.9,1.0,1.1; sources+=(data/an4/train_sp)
    else sources+=(data/an4/train); fi
    if [ "$an4_nb" = true ]; then
      run asr data resample data/an4/train data/an4/train_nb --rate 8000; sources+=(data/an4/train_nb)
    fi
  fi
  run asr data combine data/train "${sources[@]}" --prefix always
  run asr data combine data/dev data/fsdd_dev $([ "$an4" = true ] && echo data/an4_dev) --prefix always
}
stage_tokens() {  # phones of the training text; the digits task's lexicon is AN4's entries for ZERO..NINE
  run asr tokens data/train --out $lang/tokens.txt --unit phone --lexicon $lexicon
  grep -E '^(ZERO|ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE)[[:space:]]' $lexicon > data/local/digits_lexicon.txt
}
stage_lm() {
  run asr lm data/local/lm_train.txt --out $lm --order 3 --lexicon $lexicon
  if [ "$spell_order" != 0 ]; then spelling_lm data/local/lm_train.txt "$spell_order" $spell_lm; fi
}
stage_decode() {  # FSDD dev with the digit lexicon, each recording alone and the speaker's together (the speaker
  # graph); AN4 dev with AN4's lexicon + LM, its weights tuned on it
  run asr decode "$model" data/fsdd_dev --exp-dir "$exp" --decoders digits,digits_graph \
    --decode-config conf/decode.yaml --no-progress
  if [ "$an4" = true ]; then
    run asr decode "$model" data/an4_dev --exp-dir "$exp" --decoders lm --decode-config conf/decode.yaml \
      --tune-on an4_dev $([ "$spell_order" = 0 ] || echo "--set lm.spell_lm=$spell_lm") --no-progress
  fi
}
decode_dirs() {  # the decode dirs of one set (or of all): the digits decoders on FSDD, lexicon + LM on AN4
  local x
  for x in ${1:-$(present_sets)}; do
    case $x in
      fsdd_dev) echo "$exp/decode_fsdd_dev_digits $exp/decode_fsdd_dev_digits_graph" ;;
      an4_dev) echo "$exp/decode_an4_dev_lm" ;;
    esac
  done
}
stage_score() {  # the model keeps the better of the digits decoders on FSDD dev (the FSDD task's) and its card
  local x dir
  for x in $(present_sets); do
    for dir in $(decode_dirs "$x"); do
      if [ -f "$dir/text" ]; then
        run asr score "data/$x/text" "$dir/text" --utt2spk "data/$x/utt2spk" --out "$dir" > "$dir/scores.txt"
      fi
    done
  done
  run asr model set-decoder "$model" $(decode_dirs fsdd_dev) --on fsdd_dev
  run asr info "$model" --out "$model/README.md" --run-log exp/log/run.log
}
present_sets() { local x; for x in $eval_sets; do if [ -f "data/$x/text" ] && { [ $x = fsdd_dev ] || [ "$an4" = true ]; }; then echo "$x"; fi; done; }
run_stages prep perturb feats tokens lm train average decode score results
