#!/usr/bin/env bash
# CMU AN4 with a BiLSTM-CTC model: data -> speed perturbation -> fbank + CMVN -> units -> word 3-gram LM ->
# train (SpecAugment) -> checkpoint averaging -> decode (greedy, prefix beam, lexicon + LM) -> score -> RESULTS.
# Splits (data_prep/an4.py): train 850 / dev 98 (8 held-out speakers) / test 130 (only when the corpus has it).
# The LM weight and word score are tuned on dev (a grid, as Kaldi's scoring) and then applied to test.
# Units (--unit): phone (an4.dic through the lexicon, as EESEN) had the lowest dev WER, so it is the default;
# char and bpe also decode greedy and with prefix beam search (NOTES.md, RESULTS.md). Phones give words only
# through the lexicon decoder.
stage=0; stop_stage=100; corpus_dir=""; nj=2; conf=conf/train.yaml; tag=""; seed=1; unit=phone; cell=lstm
epochs=""; avg=5; bpe_size=100; lm_order=3; results=RESULTS.md; notes=""; compare=""
cmd=local; nproc=1; nnodes=1; ngpu=0; rdzv_endpoint=""  # jobs: local|slurm; training: torchrun (docs/scaling.md)
_recipe_opts="stage stop_stage corpus_dir nj conf tag seed unit cell epochs avg bpe_size lm_order results notes compare"
_recipe_opts="$_recipe_opts cmd nproc nnodes ngpu rdzv_endpoint"
cd "$(dirname "$0")"
. ../../recipes/lib.sh
parse_options "$@"
start_run "$@"

train=train_sp; dev=dev; lang=data/lang_$unit; lm=data/local/lm/${lm_order}gram.arpa
lexicon=data/local/dict/lexicon.txt
tag=${tag:-bilstm_ctc_$unit$([ "$cell" = lstm ] || echo "_$cell")}; exp=exp/$tag
model=$exp; [ "$avg" -gt 0 ] && model=$exp/ave_$avg  # the model decoded; exp/model links to it
eval_sets() { for x in $dev test; do [ -f data/$x/text ] && echo $x; done; return 0; }
decoders() { if [ "$unit" = phone ]; then echo lm; else echo greedy beam lm; fi; }

if stage 0 "data preparation"; then
  run python -m data_prep.an4 $(corpus_arg) --data-dir data
fi
if stage 1 "speed perturbation 0.9/1.0/1.1 of train"; then
  run asr data perturb-speed data/train data/$train --factors 0.9,1.0,1.1
fi
if stage 2 "fbank features and CMVN stats"; then
  for x in $train $(eval_sets); do
    run asr feats data/$x --conf conf/fbank.yaml --feat-dir fbank --nj "$nj" --cmd "$cmd"
  done
fi
if stage 3 "output units ($unit)"; then
  run asr tokens data/train --out $lang/tokens.txt --unit "$unit" --bpe-size "$bpe_size" --lexicon $lexicon
fi
if stage 4 "word ${lm_order}-gram LM from the training text"; then
  run asr lm data/local/lm_train.txt --out $lm --order "$lm_order" --lexicon $lexicon
fi
if stage 5 "training"; then
  run_train --config "$conf" --train-dir data/$train --dev-dir data/$dev --tokens $lang/tokens.txt \
    --exp-dir $exp --set training.seed=$seed --set model.cell=$cell ${epochs:+--set training.epochs=$epochs} \
    --no-progress
fi
if stage 6 "checkpoint averaging (best $avg by dev loss)"; then
  if [ "$avg" -gt 0 ]; then run asr average $exp $model --num "$avg" --by best --metric loss; fi
  ln -sfn "${model#exp/}" exp/model
fi
if stage 7 "decoding"; then
  for x in $(eval_sets); do
    for d in $(decoders); do
      opts=(--decoder $d --no-progress)
      case $d in
        beam) opts+=(--beam-size 10) ;;
        lm) opts+=(--beam-size 50 --lm $lm --lexicon $lexicon)
            if [ "$x" = "$dev" ]; then opts+=(--tune-lm-weights 0,0.25,0.5,1,2 --tune-word-scores -1,0,1,2,3)
            else opts+=(--lm-params $exp/decode_${dev}_lm/lm_params.yaml); fi ;;
      esac
      run asr decode $model data/$x $exp/decode_${x}_$d "${opts[@]}"
    done
  done
fi
if stage 8 "scoring"; then
  for x in $(eval_sets); do
    for d in $(decoders); do
      dir=$exp/decode_${x}_$d
      run asr score data/$x/text $dir/text --utt2spk data/$x/utt2spk --out $dir > $dir/scores.txt
    done
  done
fi
if stage 9 "results"; then
  run python ../../recipes/results.py --exp $exp $(for e in $compare; do echo --exp $e; done) \
    --run-log exp/log/run.log --out "$results" --title "AN4: BiLSTM-CTC ($unit units)" ${notes:+--notes "$notes"}
fi
# The last lines, also when every stage was done already: each scored set's %WER line and its decode dir.
for x in $(eval_sets); do
  for d in $(decoders); do
    dir=$exp/decode_${x}_$d
    if [ "$stop_stage" -ge 8 ] && [ -f $dir/scores.txt ]; then echo "$(grep '^%WER' $dir/scores.txt) $dir"; fi
  done
done
