# The stages the recipes share, and their common options. egs/<corpus>/run.sh is:
#   . "$(dirname "$0")/../../recipes/stages.sh"
#   opt NAME DEFAULT "HELP"               # its own options (recipes/lib.sh)
#   recipe_start "$@"                     # parse the options, open the run log
#   VARIABLES; stage_NAME() { ...; }      # its settings and its own stages (one may replace a shared one)
#   run_stages prep perturb feats ...     # stage N is the N-th name, from 0; then each scored set's %WER line
# The shared stages read: corpus (data_prep module), train (training data dir), dev, eval_sets (the sets decoded
# and scored, when present), screened_sets (data dirs `asr data fix` screens besides those with features: their
# reports join the summary), lang (holds tokens.txt), decoders (names in conf/decode.yaml or built in:
# greedy,beam,lm), decode_opts, title (RESULTS.md); a stage's log line is about_NAME when set.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt stage 0 "first stage to run"
opt stop_stage 100 "last stage to run"
opt corpus_dir "" "corpus root, from where you are (default \$ASR_CORPORA/<corpus>, else download)"
opt nj 2 "parallel feature jobs"
opt conf conf/train.yaml "training config (paths: from the recipe's folder)"
opt tag bilstm_ctc "the experiment: exp/<tag>"
opt seed 1 "training seed"
opt train_set "" "training config overrides for every model trained, KEY=VALUE separated by spaces (asr train --set)"
opt avg_by best "which epochs --avg averages: the best N by dev loss (best) or the last N (last)"
opt ensemble 1 "train N models (seeds seed, seed+N, ...: exp/<tag>/seed<S>) and decode them as one (--combine)"
opt combine sequence "--ensemble: sequence (the lm decoder ranks the models' pooled N-best by their mean CTC log-likelihood) or posterior (each frame's mean)"
opt cmd local "how jobs run: local or 'slurm [sbatch options]' (docs/scaling.md)"
opt nproc 1 "training processes per node on CPU (torchrun)"
opt nnodes 1 "training hosts, each running this command"
opt ngpu 0 "training processes per node, one GPU each"
opt rdzv_endpoint "" "HOST:PORT where the hosts meet (--nnodes > 1)"

dev=dev; eval_sets="dev test"; lang=data/lang; decoders=greedy; decode_opts=(); title=Results
train_args=()  # `asr train` arguments for every model a recipe trains (recipe_start: --train-set's --set)

recipe_start() {  # recipe_start "$@": options, then the run log
  parse_options "$@"
  local x; for x in $train_set; do train_args+=(--set "$x"); done
  case $avg_by in best|last) ;; *) echo "error: --avg-by: best or last, not '$avg_by'" >&2; exit 1 ;; esac
  case $combine in sequence|posterior) ;; *) echo "error: --combine: sequence or posterior, not '$combine'" >&2; exit 1 ;; esac
  if ! [[ $ensemble =~ ^[1-9][0-9]*$ ]]; then
    echo "error: --ensemble: a number of models (1 or more), not '$ensemble'" >&2; exit 1
  fi
  corpus_args=()
  if [ -n "$corpus_dir" ]; then
    if [[ $corpus_dir != /* ]]; then  # relative to where run.sh was started
      corpus_dir=$(cd "$start_dir" && cd "$corpus_dir" 2>/dev/null && pwd || echo "$start_dir/$corpus_dir")
    fi
    corpus_args=(--corpus-dir "$corpus_dir")
  fi
  start_run "$@"
}

run_stages() {  # run_stages NAME...: stage N runs stage_<N-th NAME>; then each scored set's %WER line
  local n=0 name about score_stage=""
  exp=exp/$tag; model=$exp; if [ "${avg:-0}" -gt 0 ]; then model=$exp/ave_$avg; fi
  if [ "$ensemble" -gt 1 ]; then model=$exp/ensemble; fi
  for name in "$@"; do
    about=about_$name
    if stage "$n" "${!about:-$(describe "$name")}"; then "stage_$name"; fi
    if [ "$name" = score ]; then score_stage=$n; fi
    n=$((n + 1))
  done
  _stamp_pending
  if [ -n "$score_stage" ] && [ "$stop_stage" -ge "$score_stage" ]; then wer_lines; fi
}

describe() {
  case $1 in
    prep) echo "data preparation" ;;
    perturb) echo "speed perturbation 0.9/1.0/1.1 of train" ;;
    feats) echo "fbank features and CMVN stats" ;;
    tokens) echo "output units" ;;
    train) if [ "$ensemble" -gt 1 ]; then echo "training $ensemble models (seeds $(member_seeds))"; else echo "training"; fi ;;
    average) if [ "$ensemble" -gt 1 ]; then
               echo "checkpoint averaging ($(averaged)), $combine-level combination of the $ensemble models"
             else echo "checkpoint averaging ($(averaged))"; fi ;;
    decode) echo "decoding" ;;
    score) echo "scoring; the model's decoder and card" ;;
    *) echo "$1" ;;
  esac
}

present_sets() { local x; for x in $eval_sets; do if [ -f "data/$x/text" ]; then echo "$x"; fi; done; }
feat_sets() { printf '%s\n' "$train" "$dev" $(present_sets) | awk '!seen[$0]++'; }
decode_dirs() {  # decode_dirs [SET]: every decode dir (of one set): exp/<tag>/decode_<set>_<decoder>
  local x d
  for x in ${1:-$(present_sets)}; do for d in ${decoders//,/ }; do echo "$exp/decode_${x}_$d"; done; done
}
wer_lines() {  # the last lines, also when every stage was done already
  local dir
  for dir in $(decode_dirs); do
    if [ -f "$dir/scores.txt" ]; then echo "$(grep '^%WER' "$dir/scores.txt") $dir"; fi
  done
}
feats() {  # feats SET...: features and CMVN stats of data/SET
  local x
  for x in "$@"; do
    run asr feats "data/$x" --conf conf/fbank.yaml --feat-dir fbank --nj "$nj" --cmd "$cmd" $(strict_flag)
  done
}
spelling_lm() {  # spelling_lm TEXT ORDER OUT: a letter n-gram for spelled words (asr.decoding.spelling)
  run python -m data_prep.spelling --text "$1" --out data/local/spell_train.txt
  run asr lm data/local/spell_train.txt --out "$3" --order "$2"
}

stage_prep() { run python -m "data_prep.$corpus" "${corpus_args[@]}" --data-dir data $(strict_flag); }
stage_perturb() { run asr data perturb-speed data/train "data/$train" --factors 0.9,1.0,1.1; }
stage_feats() { feats $(feat_sets); }
averaged() { if [ "$avg_by" = last ]; then echo "last ${avg:-0} epochs"; else echo "best ${avg:-0} by dev loss"; fi; }
member_seeds() { local i out=(); for ((i = 0; i < ensemble; i++)); do out+=($((seed + i * ensemble))); done; echo "${out[*]}"; }
train_one() {  # train_one EXP_DIR SEED [ASR_TRAIN_ARGS...]
  local dir=$1 s=$2; shift 2
  run_train --config "$conf" --train-dir "data/$train" --dev-dir "data/$dev" --tokens "$lang/tokens.txt" \
    --exp-dir "$dir" --set training.seed="$s" ${cell:+--set model.cell=$cell} \
    ${epochs:+--set training.epochs=$epochs} $(strict_flag) --no-progress "${train_args[@]}" "$@"
}
# --ensemble N: N models, seeds seed, seed+N, ... (so seeds 1..N give disjoint sets). On the CPU in one process
# each (no --nproc/--ngpu/--nnodes) they train at once, the cores shared out (at least one thread each): small
# LSTMs use one core far better than two, so on 2 cores three one-thread trainings together get 1.3-1.8x the
# frames/s of the three one after another with two threads each (two machines; egs/an4/NOTES.md). Otherwise one
# after another.
stage_train() {
  local s p pids=() threads failed=0
  if [ "$ensemble" -gt 1 ] && [ "${ngpu:-0}" -eq 0 ] && [ "${nproc:-1}" -le 1 ] && [ "${nnodes:-1}" -le 1 ]; then
    threads=$(( $(getconf _NPROCESSORS_ONLN) / ensemble )); if [ "$threads" -lt 1 ]; then threads=1; fi
    for s in $(member_seeds); do
      train_one "$exp/seed$s" "$s" --set training.num_threads=$threads & pids+=($!)
    done
    # background jobs of a script ignore Ctrl-C: pass it on as SIGTERM (each saves a checkpoint and stops) to
    # each job's `asr train`, a child of the job's subshell (killing the subshell alone would orphan it)
    local stop='pkill -TERM -P "$(IFS=,; echo "${pids[*]}")"; kill -TERM "${pids[@]}" 2>/dev/null; wait; exit'
    trap "$stop 130" INT; trap "$stop 143" TERM
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    trap 'exit 130' INT; trap 'exit 143' TERM
    if [ "$failed" -ne 0 ]; then
      echo "error: training a model of the ensemble failed (exp/$tag/seed*/log/train.log)" >&2; return 1
    fi
  elif [ "$ensemble" -gt 1 ]; then
    for s in $(member_seeds); do train_one "$exp/seed$s" "$s"; done
  else
    train_one "$exp" "$seed"
    if [ "${avg:-0}" -eq 0 ]; then ln -sfn "$tag" exp/model; fi
  fi
}
average_into() { run asr average "$1" "$2" --num "$avg" --by "$avg_by" --metric loss; }  # EXP_DIR OUT_DIR
stage_average() {  # exp/model links to the model decoded
  local s members=()
  if [ "$ensemble" -gt 1 ]; then
    for s in $(member_seeds); do
      if [ "${avg:-0}" -gt 0 ]; then
        average_into "$exp/seed$s" "$exp/seed$s/ave_$avg"; members+=("$exp/seed$s/ave_$avg")
      else
        members+=("$exp/seed$s")
      fi
    done
    run asr ensemble "${members[@]}" --out "$model" --combine "$combine"
  elif [ "$avg" -gt 0 ]; then
    average_into "$exp" "$model"
  fi
  ln -sfn "${model#exp/}" exp/model
}
stage_decode() {  # every set with every decoder; a decoder's grid is tuned on dev and applied to the others
  local tune=() config=()
  if [ -f conf/decode.yaml ]; then config=(--decode-config conf/decode.yaml); fi
  if [[ " $eval_sets " == *" $dev "* ]] && [ -f "data/$dev/text" ]; then tune=(--tune-on "$dev"); fi
  run asr decode "$model" $(present_sets | sed 's|^|data/|') --exp-dir "$exp" --decoders "$decoders" \
    "${config[@]}" "${tune[@]}" "${decode_opts[@]}" --no-progress
}
stage_score() {
  local x dir
  for x in $(present_sets); do
    for dir in $(decode_dirs "$x"); do
      run asr score "data/$x/text" "$dir/text" --utt2spk "data/$x/utt2spk" --out "$dir" > "$dir/scores.txt"
    done
  done
  # the model keeps the decoder with the lowest dev WER (its files and weights) and its card: exp/model is a product
  run asr model set-decoder "$model" $(decode_dirs) --on "$dev"
  run asr info "$model" --out "$model/README.md" --run-log exp/log/run.log
  screening_summary $(for x in $(feat_sets) ${screened_sets:-}; do echo data/$x/log/{fix,feats}_report.txt; done) \
    "$exp"/log/{train,dev}_report.txt >&2
}
stage_results() {
  local e exps=(--exp "$exp")
  for e in ${compare:-}; do exps+=(--exp "$e"); done
  run asr results "${exps[@]}" --run-log exp/log/run.log --out "${results:-RESULTS.md}" --title "$title" \
    ${notes:+--notes "$notes"}
}
