#!/usr/bin/env bash
# A one-node Slurm on localhost for the `--cmd slurm` tests: Debian's slurm-wlm (slurmctld + slurmd) and munge.
#
#   tests/slurm/setup.sh [start]   install when missing (root + apt-get), configure, start, wait for an idle node
#   tests/slurm/setup.sh stop      stop the daemons this script started
#   tests/slurm/setup.sh status    sinfo of the private cluster
#
# Everything is private to $ASR_SLURM_DIR (default /tmp/asr-slurm): slurm.conf, a munge key and socket, state,
# logs, pid files, and ports 16817/16818, so a machine's own Slurm or munge (/etc/slurm, /etc/munge) is never
# touched. Clients find the cluster through SLURM_CONF: the last line printed on success is
#   export SLURM_CONF=$ASR_SLURM_DIR/slurm.conf
# On failure the last line says why (one line, for a test's skip message) and the exit status is 1.
# ASR_SLURM_INSTALL=0: never install (tests/test_parallel.py; .ci/run installs). ASR_SLURM_CPUS: CPUs offered.
set -euo pipefail

dir=${ASR_SLURM_DIR:-/tmp/asr-slurm}
conf=$dir/slurm.conf
cpus=${ASR_SLURM_CPUS:-}   # CPUs the node offers (default: what slurmd -C finds)
may_install=${ASR_SLURM_INSTALL:-1}
timeout=${ASR_SLURM_TIMEOUT:-60}

die() { echo "slurm setup: $*" >&2; echo "slurm setup failed: $*"; exit 1; }
sinfo_state() { [ -f "$conf" ] || return 0; SLURM_CONF=$conf timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

install() {
  local missing=()
  for pair in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$may_install" = 1 ] || die "${missing[*]} not installed (as root: tests/slurm/setup.sh installs them)"
  [ "$(id -u)" = 0 ] || die "${missing[*]} not installed and not root (apt-get install slurm-wlm munge)"
  command -v apt-get >/dev/null || die "${missing[*]} not installed and no apt-get"
  echo "slurm setup: installing slurm-wlm munge" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge) >"$dir/apt.log" 2>&1 || die "apt-get install slurm-wlm munge failed (see $dir/apt.log)"
}

write_conf() {
  local host node
  host=$(hostname -s)
  node=$(slurmd -C 2>/dev/null | head -n 1) || die "slurmd -C failed"
  if [ -n "$cpus" ]; then  # CPUs=N alone: slurmd then takes N cores
    node=$(sed -E "s/CPUs=[0-9]+/CPUs=$cpus/; s/ (Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+//g" \
      <<<"$node")
  fi
  mkdir -p "$dir/state" "$dir/spool"
  cat > "$conf.tmp" <<EOF
# written by tests/slurm/setup.sh: a one-node test cluster on localhost
ClusterName=asrtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=4  # sbatch --wait polls every 2 s only while this is small (else 2, 8, 32, 128 s)
${node/NodeName=$host/NodeName=$host NodeAddr=127.0.0.1} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  mv -f "$conf.tmp" "$conf"
}

start_munge() {
  if [ -f "$dir/munged.pid" ] && kill -0 "$(cat "$dir/munged.pid")" 2>/dev/null; then return 0; fi
  [ -f "$dir/munge.key" ] || { dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none; }
  chmod 600 "$dir/munge.key"
  munged --force --socket="$dir/munge.socket" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" >>"$dir/munged.log" 2>&1 \
    || die "munged did not start ($(tail -n 1 "$dir/munged.log" 2>/dev/null))"
}

start_daemon() {  # start_daemon NAME: slurmctld or slurmd, unless its pid file names a live process
  local pid=$dir/$1.pid
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then return 0; fi
  "$1" -f "$conf" >>"$dir/$1.out" 2>&1 \
    || die "$1 did not start ($(tail -n 1 "$dir/$1.log" 2>/dev/null || tail -n 1 "$dir/$1.out"))"
}

start() {
  mkdir -p "$dir"
  chmod 755 "$dir"  # clients (any user) must reach the munge socket; the key stays 600
  install
  case "$(sinfo_state)" in
    idle*|mix*|alloc*) echo "slurm setup: already running ($dir)" >&2; echo "export SLURM_CONF=$conf"; return 0 ;;
  esac
  write_conf
  start_munge
  start_daemon slurmctld
  start_daemon slurmd
  local waited=0 state
  while :; do
    state=$(sinfo_state)
    case "$state" in idle*|mix*|alloc*) break ;; esac
    if [ "$waited" -ge "$timeout" ]; then
      die "node not idle after ${timeout}s (state '${state:-no answer}'; logs: $dir/slurmctld.log, $dir/slurmd.log)"
    fi
    if [ "$state" = down ] || [ "$state" = drained ]; then  # a node left down by an earlier run
      SLURM_CONF=$conf scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    fi
    sleep 1; waited=$((waited + 1))
  done
  echo "slurm setup: node $(hostname -s) $state ($dir)" >&2
  echo "export SLURM_CONF=$conf"
}

stop() {
  local name
  for name in slurmd slurmctld munged; do
    if [ -f "$dir/$name.pid" ]; then kill "$(cat "$dir/$name.pid")" 2>/dev/null || true; rm -f "$dir/$name.pid"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF=$conf sinfo ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
