# Shared shell for recipes, sourced by egs/<corpus>/run.sh after it declares its option variables.
#   - options: `--foo-bar VALUE` sets the declared variable foo_bar (Kaldi's parse_options.sh); --help lists them
#   - stages: `if stage N "what"; then ...; fi` runs stage N when stage <= N <= stop_stage, with a log line
#   - run CMD...: logs the command into exp/log/run.log, then runs it
# The recipe's run log (command line, git hash, versions, seeds) goes in exp/log/.
set -euo pipefail

_recipe_dir=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The project's venv, unless an `asr` is already on PATH.
if ! command -v asr >/dev/null 2>&1 && [ -x "$repo_root/.venv/bin/asr" ]; then
  export PATH="$repo_root/.venv/bin:$PATH"
fi
export PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}"
command -v asr >/dev/null 2>&1 || { echo "error: 'asr' not found; run 'make install' in $repo_root" >&2; exit 1; }

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) $*" >&2; }

_usage() {
  echo "Usage: $0 [options]"; echo "Options (default in brackets):"
  for v in $_recipe_opts; do printf '  --%-18s [%s]\n' "${v//_/-}" "${!v}"; done
}

# parse_options "$@": every variable named in $_recipe_opts may be set by --name value or --name=value.
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
      *" $var "*) printf -v "$var" '%s' "$value" ;;
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
}

stage() {  # stage N "description"
  if [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; then
    log "stage $1: $2"
    echo "# stage $1: $2 ($(date '+%H:%M:%S'))" >> "$run_log"
    return 0
  fi
  return 1
}

run() {  # run CMD...: log the command, then run it
  printf '%q ' "$@" >> "$run_log"; echo >> "$run_log"
  "$@"
}

# find the corpus: --corpus-dir, else $ASR_CORPORA/<name>, else "" (the prep script then downloads)
corpus_arg() {
  if [ -n "$corpus_dir" ]; then echo "--corpus-dir $corpus_dir"; fi
}
