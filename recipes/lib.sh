# Shell utilities for recipes, sourced by recipes/stages.sh (the shared stages; egs/<corpus>/run.sh sources that).
#   - where: sourcing it moves into the recipe's folder (the folder of $0), from wherever run.sh was started
#   - options: `opt NAME DEFAULT "HELP"` declares --NAME (variable NAME; `--foo-bar V` sets foo_bar, as Kaldi's
#     parse_options.sh); parse_options "$@" reads them; --help lists them with their defaults
#   - stages: `if stage N "what"; then ...; fi` runs stage N when stage <= N <= stop_stage, with a log line
#   - run CMD...: logs the command into exp/log/run.log, then runs it; run_train ARGS...: `asr train` (torchrun)
#   - stamps: a finished stage is skipped on a re-run (see "Stage stamps" below)
#   - strict_flag: `--strict` when the recipe's `strict` option is true (bad data stops instead of being dropped)
#   - screening_summary REPORT...: one line per screening report that dropped something
# The recipe's run log (command line, git hash, versions, seeds) goes in exp/log/.
set -euo pipefail

# Stage stamps. When stage N's commands have all succeeded, exp/.done/stage<N> is written (last, atomically),
# holding the recipe's options. When stage N starts, its stamp and those of all later stages are removed
# first, so a stage killed half-way is never taken for finished; it is redone (each stage's commands start from
# clean state: outputs are replaced atomically, `asr feats` removes its old outputs first, `asr train` resumes
# from its newest good checkpoint). A plain `./run.sh` skips a stage whose stamp holds the same options; a
# stage range you name with --stage/--stop-stage always runs (as ESPnet). Options that do not change results
# ($_stamp_ignore) are not compared; nor is how many processes train (a finished training is finished for
# `asr train` with any world size) or where jobs run.
stamp_dir=exp/.done
_stamp_ignore="stage stop_stage nj strict cmd nproc nnodes ngpu rdzv_endpoint"
_explicit_stages=false
_pending_stamp=""

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
start_dir=$PWD  # where run.sh was started: --corpus-dir is relative to it
cd "$(dirname "$0")"
# The project's venv, unless an `asr` is already on PATH.
if ! command -v asr >/dev/null 2>&1 && [ -x "$repo_root/.venv/bin/asr" ]; then
  export PATH="$repo_root/.venv/bin:$PATH"
fi
export PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}"
command -v asr >/dev/null 2>&1 || { echo "error: 'asr' not found; run 'make install' in $repo_root" >&2; exit 1; }

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) $*" >&2; }

# opt NAME DEFAULT "HELP": the option --NAME sets variable NAME (declared again: a new default and help)
_recipe_opts=${_recipe_opts:-}
declare -A _opt_help=()
opt() {
  printf -v "$1" '%s' "$2"
  _opt_help[$1]=$3
  case " $_recipe_opts " in *" $1 "*) ;; *) _recipe_opts="${_recipe_opts:+$_recipe_opts }$1" ;; esac
}

_usage() {
  echo "Usage: $0 [options]"; echo "Options (default in brackets):"
  for v in $_recipe_opts; do printf '  --%-15s %-18s %s\n' "${v//_/-}" "[${!v}]" "${_opt_help[$v]:-}"; done
  echo "A finished stage leaves a stamp in $stamp_dir/ and is skipped when ./run.sh is run again with the same"
  echo "options; stages named with --stage/--stop-stage always run. A stage killed half-way is redone."
}

# parse_options "$@": every declared option may be set by --name value or --name=value.
parse_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --help|-h) _usage; exit 0 ;;
      --*=*) name=${1%%=*}; value=${1#*=}; shift ;;
      --*) [ $# -ge 2 ] || { echo "error: option $1 needs a value" >&2; exit 1; }; name=$1; value=$2; shift 2 ;;
      *) echo "error: unexpected argument '$1' (see --help)" >&2; exit 1 ;;
    esac
    var=${name#--}; var=${var//-/_}
    case " $_recipe_opts " in
      *" $var "*) printf -v "$var" '%s' "$value"
                  if [ "$var" = stage ] || [ "$var" = stop_stage ]; then _explicit_stages=true; fi ;;
      *) echo "error: unknown option '$name' (see --help)" >&2; exit 1 ;;
    esac
  done
}

# start_run: open exp/log/run.log with what ran, where, with which versions.
start_run() {
  mkdir -p exp/log
  run_log=exp/log/run.log
  {
    echo "# $(date -u '+%Y-%m-%dT%H:%M:%SZ') $0 $*"
    echo "# git $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo_root" diff --quiet 2>/dev/null || echo ' (modified)')"
    python -c 'import sys, torch, torchaudio, numpy; print(f"# python {sys.version.split()[0]}, torch {torch.__version__}, torchaudio {torchaudio.__version__}, numpy {numpy.__version__}, threads {torch.get_num_threads()}")'
    for v in $_recipe_opts; do echo "#   $v=${!v}"; done
  } >> "$run_log"
  trap _end_run EXIT
  # a signal must reach _end_run as a failure (bash would report the last command's status, often 0)
  trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
}

_end_run() {  # on a successful exit, the end time closes the last stage's wall time (see `asr results`)
  local rc=$?
  if [ "$rc" -eq 0 ]; then _stamp_pending; echo "# end ($(date '+%H:%M:%S'), t=$(date +%s))" >> "$run_log"; fi
  return "$rc"
}

stage() {  # stage N "description"
  _stamp_pending  # reaching the next stage means the previous one's commands all succeeded (set -e)
  if [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; then
    if ! $_explicit_stages && [ -f "$stamp_dir/stage$1" ] && [ "$(cat "$stamp_dir/stage$1")" = "$(_stamp_text)" ]; then
      log "stage $1: $2: done already ($stamp_dir/stage$1), skipped"
      return 1
    fi
    _clear_stamps "$1"
    log "stage $1: $2"
    echo "# stage $1: $2 ($(date '+%H:%M:%S'), t=$(date +%s))" >> "$run_log"
    _pending_stamp=$1
    return 0
  fi
  return 1
}

_stamp_text() {  # the options a stamp records
  local v
  for v in $_recipe_opts; do
    case " $_stamp_ignore " in *" $v "*) ;; *) echo "$v=${!v}" ;; esac
  done
}

_clear_stamps() {  # _clear_stamps N: remove the stamps of stage N and every later stage
  local f n
  for f in "$stamp_dir"/stage*; do
    [ -e "$f" ] || continue
    n=${f##*/stage}
    if [ "$n" -ge "$1" ]; then rm -f "$f"; fi
  done
}

_stamp_pending() {  # write the stamp of the stage that has just finished
  if [ -n "$_pending_stamp" ]; then
    mkdir -p "$stamp_dir"
    _stamp_text > "$stamp_dir/.stage$_pending_stamp.tmp"
    mv -f "$stamp_dir/.stage$_pending_stamp.tmp" "$stamp_dir/stage$_pending_stamp"
    _pending_stamp=""
  fi
}

strict_flag() {  # --strict when the recipe's `strict` option is true
  case "${strict:-false}" in true|yes|1) echo "--strict" ;; esac
}

screening_summary() {  # screening_summary REPORT...: the header of each report that dropped something
  local f n=0
  for f in "$@"; do
    [ -f "$f" ] || continue
    if ! head -n 1 "$f" | grep -q 'dropped 0$'; then
      echo "screening: $(head -n 1 "$f" | sed 's/^# //') (list: $f)"
      n=$((n + 1))
    fi
  done
  if [ "$n" -eq 0 ]; then echo "screening: no utterance dropped"; fi
}

run() {  # run CMD...: log the command, then run it
  printf '%q ' "$@" >> "$run_log"; echo >> "$run_log"
  "$@"
}

# run_train ARGS...: `asr train ARGS` in one process, or under torchrun (docs/scaling.md) with the recipe's
# options --ngpu G (G processes per node, one GPU each) or --nproc N (N CPU processes per node) and --nnodes M
# (M hosts, each running the same command, meeting at --rdzv-endpoint HOST:PORT).
run_train() {
  local n=${nproc:-1} nodes=${nnodes:-1} device=cpu
  if [ "${ngpu:-0}" -gt 0 ]; then n=$ngpu; device=cuda; fi
  if [ "$n" -le 1 ] && [ "$nodes" -le 1 ]; then
    if [ "${ngpu:-0}" -gt 0 ]; then run asr train "$@" --device cuda; else run asr train "$@"; fi
    return
  fi
  local rdzv=(--standalone)
  if [ "$nodes" -gt 1 ]; then
    [ -n "${rdzv_endpoint:-}" ] || { echo "error: --nnodes $nodes needs --rdzv-endpoint HOST:PORT" >&2; return 1; }
    rdzv=(--rdzv-backend c10d --rdzv-endpoint "$rdzv_endpoint" --rdzv-id "${SLURM_JOB_ID:-asr}")
  fi
  run torchrun --nnodes "$nodes" --nproc-per-node "$n" "${rdzv[@]}" -m asr.cli train "$@" --device $device
}

