#!/usr/bin/env bash
# Your own corpus with a BiLSTM-CTC model: sources -> data dirs (asr prepare auto) -> speed perturbation ->
# fbank + CMVN -> units -> word n-gram LM from the training text -> train (sized to the corpus) -> checkpoint
# averaging -> decode (greedy, prefix beam, lexicon + LM tuned on dev) -> score -> RESULTS.md.
#
#   egs/custom/run.sh --train my_corpus/ --dev dev.csv [--test test.jsonl] [--unit char|bpe]
#
# A source (--train, --dev, --test) is anything `asr prepare auto` reads (docs/data.md): a folder of recordings
# with transcripts, a CSV/TSV/JSON-lines manifest, a Common Voice split (`.../train.tsv`; a release folder gives
# the split of the same name), an LJSpeech folder, or a Kaldi data dir. Paths: from where you run the script.
# Sample rates may differ: `asr feats` resamples everything to conf/fbank.yaml's rate (16 kHz) and says so.
#
# Sizing (stage 5 and `--bpe-size auto`), by H = hours of training audio before speed perturbation (utt2dur):
#   H < 0.1  conf/train_tiny.yaml    2 x 128 BiLSTM, 30 epochs               BPE  50
#   H < 5    conf/train_small.yaml   3 x 192, 12 epochs (egs/an4's config)   BPE 100
#   H < 50   conf/train_medium.yaml  4 x 256, 15 epochs                      BPE 300
#   else     conf/train_large.yaml   5 x 320 (projected to 256), 20 epochs   BPE 1000
# --conf FILE and --epochs N override the choice. Stages: recipes/stages.sh.
. "$(dirname "$0")/../../recipes/stages.sh"
opt train "" "training source (required)"
opt dev "" "dev source (required): tunes the LM weight, picks the decoder"
opt test "" "test source (optional)"
opt case upper "transcript case: upper, lower or keep (asr prepare --case)"
opt unit char "output units: char or bpe"
opt bpe_size auto "bpe: vocabulary size (auto: from the hours of training audio, see the header)"
opt speed_perturb true "speed perturbation 0.9/1.0/1.1 of train (true or false)"
opt conf auto "training config (auto: chosen by the hours of training audio, see the header)"
opt epochs "" "training epochs (default: the config's)"
opt avg 5 "average the N best epochs by dev loss (0: none)"
opt lm_order 3 "word n-gram order"
opt title "" "RESULTS.md's title"
recipe_start "$@"

# The sources are options named train/dev/test, whose names the shared stages use for data dir names: keep the
# sources (absolute, from where run.sh started) in *_src, which the stage stamps record instead.
abs_src() { if [ -z "$1" ] || [[ $1 == /* ]]; then echo "$1"; else echo "$start_dir/$1"; fi; }
train_src=$(abs_src "$train"); dev_src=$(abs_src "$dev"); test_src=$(abs_src "$test")
_recipe_opts="$_recipe_opts train_src dev_src test_src"; _stamp_ignore="$_stamp_ignore train dev test"
[ -n "$train_src" ] && [ -n "$dev_src" ] || { echo "error: --train and --dev are required (see --help)" >&2; exit 1; }
case $unit in char|bpe) ;; *) echo "error: --unit must be char or bpe, not '$unit'" >&2; exit 1 ;; esac

dev=dev; train=$(case $speed_perturb in true|yes|1) echo train_sp ;; *) echo train ;; esac)
lang=data/lang_$unit; lm=data/local/lm/${lm_order}gram.arpa; decode_opts=(--set lm.lm=$lm)
tag=bilstm_ctc_$unit; decoders=greedy,beam,lm; title=${title:-"Custom corpus: BiLSTM-CTC ($unit units)"}
about_prep="data preparation (asr prepare auto)"; about_tokens="output units ($unit)"
about_lm="word ${lm_order}-gram LM from the training text"; about_train="training (sized to the corpus)"
notes=data/local/results_notes.md

train_hours() { awk '{s += $2} END {printf "%.3f", s / 3600}' data/train/utt2dur; }
size_tier() {  # tiny|small|medium|large by the hours of training audio (the header's table)
  awk -v h="$(train_hours)" 'BEGIN {print (h < 0.1 ? "tiny" : h < 5 ? "small" : h < 50 ? "medium" : "large")}'
}
chosen_bpe_size() {
  if [ "$bpe_size" != auto ]; then echo "$bpe_size"; return; fi
  case $(size_tier) in tiny) echo 50 ;; small) echo 100 ;; medium) echo 300 ;; large) echo 1000 ;; esac
}
chosen_conf() { if [ "$conf" != auto ]; then echo "$conf"; else echo "conf/train_$(size_tier).yaml"; fi; }

prepare_set() {  # prepare_set NAME SRC: data/NAME from SRC (a Common Voice release folder: its NAME.tsv)
  local src=$2
  if [ -d "$src/clips" ] && [ -f "$src/$1.tsv" ]; then src=$src/$1.tsv; fi
  run asr prepare auto "$src" "data/$1" --case "$case" --nj "$nj"
}
stage_prep() {
  rm -rf data/train data/dev data/test
  prepare_set train "$train_src"
  prepare_set dev "$dev_src"
  if [ -n "$test_src" ]; then prepare_set test "$test_src"; fi
  mkdir -p data/local
  cut -d' ' -f2- data/train/text > data/local/lm_train.txt
}
stage_perturb() {
  if [ "$train" = train_sp ]; then run asr data perturb-speed data/train data/train_sp --factors 0.9,1.0,1.1
  else log "no speed perturbation (--speed-perturb $speed_perturb)"; fi
}
stage_tokens() { run asr tokens data/train --out $lang/tokens.txt --unit "$unit" --bpe-size "$(chosen_bpe_size)"; }
stage_lm() { run asr lm data/local/lm_train.txt --out $lm --order "$lm_order"; }
stage_train() {
  local c h n how="" sp="" pieces=""
  c=$(chosen_conf); h=$(train_hours); n=$(wc -l < data/train/utt2spk)
  if [ "$conf" = auto ]; then how=" (chosen by the hours of training audio: egs/custom/run.sh)"; fi
  if [ "$train" = train_sp ]; then sp=", speed-perturbed 0.9/1.0/1.1"; fi
  if [ "$unit" = bpe ]; then pieces=" ($(chosen_bpe_size) pieces at most)"; fi
  log "training data: $h h in $n utterances: $c"
  { echo "- Training data: $h h, $n utterances (\`$train_src\`)$sp; dev: \`$dev_src\`."
    echo "- Training config: \`$c\`$how${epochs:+, $epochs epochs}."
    echo "- Units: $unit$pieces; word ${lm_order}-gram LM from the training text."; } > "$notes"
  run_train --config "$c" --train-dir "data/$train" --dev-dir "data/$dev" --tokens "$lang/tokens.txt" \
    --exp-dir "$exp" --set training.seed="$seed" ${epochs:+--set training.epochs=$epochs} $(strict_flag) --no-progress \
    "${train_args[@]}"
  if [ "$avg" -eq 0 ]; then ln -sfn "$tag" exp/model; fi
}
run_stages prep perturb feats tokens lm train average decode score results
