#!/usr/bin/env bash
# Free Spoken Digit Dataset with a BiLSTM-CTC model: data -> speed perturbation -> fbank + CMVN -> tokens ->
# train -> checkpoint averaging -> decode -> score. dev = one held-out speaker (data_prep/fsdd.py), so its WER is
# speaker-independent; a sixth speaker in a full copy becomes `test`. Decoding: greedy (free spelling) and
# lexicon-constrained (the ten digit words of the training text, no LM and no tuning: a closed-vocabulary
# grammar, as Kaldi's digit recipes use).
stage=0; stop_stage=100; corpus_dir=""; nj=2; conf=conf/train.yaml; tag=bilstm_ctc; seed=1; cell=lstm; epochs=""; avg=5
cmd=local; nproc=1; nnodes=1; ngpu=0; rdzv_endpoint=""  # jobs: local|slurm; training: torchrun (docs/scaling.md)
_recipe_opts="stage stop_stage corpus_dir nj conf tag seed cell epochs avg cmd nproc nnodes ngpu rdzv_endpoint"
cd "$(dirname "$0")"
. ../../recipes/lib.sh
parse_options "$@"
start_run "$@"

train=train_sp; dev=dev; exp=exp/$tag
eval_sets() { for x in $dev test; do [ -f data/$x/text ] && echo $x; done; return 0; }
decoders="greedy lexicon"; words=data/local/words.txt

if stage 0 "data preparation"; then
  run python -m data_prep.fsdd $(corpus_arg) --data-dir data
fi
if stage 1 "speed perturbation 0.9/1.0/1.1 of train"; then
  run asr data perturb-speed data/train data/$train --factors 0.9,1.0,1.1
fi
if stage 2 "fbank features and CMVN stats"; then
  for x in $train $(eval_sets); do
    run asr feats data/$x --conf conf/fbank.yaml --feat-dir fbank --nj "$nj" --cmd "$cmd"
  done
fi
if stage 3 "output units and the word list"; then
  run asr tokens data/train --out data/lang/tokens.txt
  mkdir -p data/local; cut -d' ' -f2- data/train/text | tr ' ' '\n' | sed '/^$/d' | sort -u > $words
fi
if stage 4 "training"; then
  run_train --config "$conf" --train-dir data/$train --dev-dir data/$dev --tokens data/lang/tokens.txt \
    --exp-dir $exp --set training.seed=$seed --set model.cell=$cell ${epochs:+--set training.epochs=$epochs} \
    --no-progress
fi
if stage 5 "checkpoint averaging (best $avg by dev loss)"; then
  if [ "$avg" -gt 0 ]; then
    run asr average $exp $exp/ave_$avg --num "$avg" --by best --metric loss
    ln -sfn "$tag/ave_$avg" exp/model
  else
    ln -sfn "$tag" exp/model
  fi
fi
if stage 6 "decoding"; then
  for x in $(eval_sets); do
    run asr decode exp/model data/$x $exp/decode_${x}_greedy --no-progress
    run asr decode exp/model data/$x $exp/decode_${x}_lexicon --decoder lm --lexicon $words --lm-weight 0 \
      --beam-size 20 --no-progress
  done
fi
if stage 7 "scoring"; then
  for x in $(eval_sets); do for d in $decoders; do
    dir=$exp/decode_${x}_$d
    run asr score data/$x/text $dir/text --utt2spk data/$x/utt2spk --out $dir > $dir/scores.txt
  done; done
fi
if stage 8 "results"; then
  run python ../../recipes/results.py --exp $exp --run-log exp/log/run.log --out RESULTS.md \
    --title "FSDD: BiLSTM-CTC (characters), dev = one held-out speaker"
fi
# The last lines, also when every stage was done already: each scored set's %WER line and its decode dir.
for x in $(eval_sets); do for d in $decoders; do
  dir=$exp/decode_${x}_$d
  if [ "$stop_stage" -ge 7 ] && [ -f $dir/scores.txt ]; then echo "$(grep '^%WER' $dir/scores.txt) $dir"; fi
done; done
