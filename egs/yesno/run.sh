#!/usr/bin/env bash
# Kaldi's yes/no recipe with a BiLSTM-CTC model: data -> fbank + CMVN -> tokens -> train -> decode -> score.
# Kaldi splits train = files 0_* (31), test = files 1_* (29); we hold out train's last 4 as dev.
# Units are whole words (YES, NO), as Kaldi's yesno lexicon has: every train file starts with NO and every test
# file with YES, and a test file opens with a clipped word; character units let that bias through (1-2% WER).
# Bad input never stops it: `asr data fix`, `asr feats` and `asr train` drop what they cannot use and list it
# in data/<set>/log/{fix,feats}_report.txt and exp/<tag>/log/{train,dev}_report.txt (--strict true: stop instead).
stage=0; stop_stage=100; corpus_dir=""; nj=2; conf=conf/train.yaml; tag=bilstm_ctc; seed=1; strict=false
cmd=local; nproc=1; nnodes=1; ngpu=0; rdzv_endpoint=""  # jobs: local|slurm; training: torchrun (docs/scaling.md)
_recipe_opts="stage stop_stage corpus_dir nj conf tag seed strict cmd nproc nnodes ngpu rdzv_endpoint"
cd "$(dirname "$0")"
. ../../recipes/lib.sh
parse_options "$@"
start_run "$@"

train=train_nodev; dev=train_dev; test=test_yesno; exp=exp/$tag

if stage 0 "data preparation"; then
  run python -m data_prep.yesno $(corpus_arg) --data-dir data
  run asr data subset data/train_yesno data/$dev --last 4
  run asr data subset data/train_yesno data/$train --first 27
fi
if stage 1 "fbank features and CMVN stats"; then
  for x in $train $dev $test; do
    run asr data fix data/$x $(strict_flag)
    run asr feats data/$x --conf conf/fbank.yaml --feat-dir fbank --nj "$nj" --cmd "$cmd" $(strict_flag)
  done
fi
if stage 2 "output units"; then
  run asr tokens data/$train --unit word --out data/lang/tokens.txt
fi
if stage 3 "training"; then
  run_train --config "$conf" --train-dir data/$train --dev-dir data/$dev --tokens data/lang/tokens.txt \
    --exp-dir $exp --set training.seed=$seed $(strict_flag)
  ln -sfn "$tag" exp/model
fi
if stage 4 "decoding"; then
  run asr decode exp/model data/$test $exp/decode_$test
fi
if stage 5 "scoring"; then
  run asr score data/$test/text $exp/decode_$test/text --out $exp/decode_$test > $exp/decode_$test/scores.txt
  screening_summary data/{$train,$dev,$test}/log/{fix,feats}_report.txt $exp/log/{train,dev}_report.txt >&2
  grep -v '^%WER' $exp/decode_$test/scores.txt
  echo "$(grep '^%WER' $exp/decode_$test/scores.txt) $exp/decode_$test"
fi
