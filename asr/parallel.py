"""Kaldi's `$cmd` for the data-parallel stages: run jobs 1..N locally (run.pl) or as a Slurm job array (slurm.pl).

`run_jobs(fn, args, cmd, log_dir, name)` runs `fn(*args[j-1])` for each job j and returns the results in job
order. `cmd` is Kaldi-like: a backend and, for Slurm, sbatch options (`"slurm --partition=cpu --mem=2G"`).
  local   a process pool of N (one job: in this process), as `utils/run.pl JOB=1:N`
  slurm   one `sbatch --array=1-N --wait` job array; task j runs `python -m asr.parallel SPEC j` with this
          environment and working directory, so the cluster must share the file system (as for Kaldi)
Either way job j logs to `log_dir/<name>.j.log` (Kaldi's `make_fbank.JOB.log`): a header, its traceback if it
fails, and `# Ended (code C)`. A failed job is reported by number with its log, in one line (JobError).
`fn` must be importable by name (a module-level function); its args and result must pickle.
"""

from __future__ import annotations

import datetime
import importlib
import multiprocessing as mp
import os
import pickle
import shlex
import shutil
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from asr.errors import AsrError, ConfigError
from asr.fileio import atomic_write

CMDS = ("local", "slurm")


class JobError(AsrError):
    """A parallel job failed; the message names it and its log."""


def parse_cmd(cmd: str) -> tuple[str, list[str]]:
    """`"slurm --mem=2G"` -> ("slurm", ["--mem=2G"]). Options after `local` are ignored, as run.pl does."""
    words = shlex.split(cmd or "local")
    if not words or words[0] not in CMDS:
        raise ConfigError(f"--cmd '{cmd}': expected {' or '.join(CMDS)} (then, for slurm, sbatch options)")
    return words[0], words[1:] if words[0] == "slurm" else []


# ---- one job ----------------------------------------------------------------------------------------------

_tick: Callable[[], None] | None = None  # set in a job that reports progress (local runs)


def tick() -> None:
    """A job calls this per item done; the local runner shows it as progress (a no-op elsewhere)."""
    if _tick is not None:
        _tick()


def _function_name(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def _resolve(name: str) -> Callable:
    module, _, qualname = name.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _now() -> str:
    return datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Z %Y").replace("  ", " ")


def _run_one(fn_name: str, args: tuple, job: int, log) -> tuple[bool, object]:
    """Run one job, writing its log to the open file `log`: (True, result) or (False, one-line reason)."""
    log.write(f"# {fn_name} job {job}: {', '.join(repr(a) for a in args)[:1000]}\n")
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        log.write(f"# Slurm job {os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID')} "
                  f"on {socket.gethostname()}\n")
    log.write(f"# Started at {_now()}\n#\n")
    log.flush()
    t0 = time.time()
    try:
        out, code = (True, _resolve(fn_name)(*args)), 0
    except Exception as e:  # noqa: BLE001 - any failure is this job's failure, reported with its log
        traceback.print_exc(file=log)
        out, code = (False, f"{type(e).__name__}: {' '.join(str(e).split())}"), 1
    log.write(f"# Accounting: time={time.time() - t0:.0f} threads=1\n# Ended (code {code}) at {_now()}, elapsed "
              f"time {time.time() - t0:.0f} seconds\n")
    log.flush()
    return out


def _local_job(spec: tuple[str, tuple, int, str]) -> tuple[bool, object]:
    fn_name, args, job, log_path = spec
    with open(log_path, "w", encoding="utf-8") as log:
        return _run_one(fn_name, args, job, log)


def _init_worker(counter) -> None:
    global _tick

    def count():
        with counter.get_lock():
            counter.value += 1

    _tick = count
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # N jobs on N cores: one thread each (read when torch loads)


# ---- the runners ------------------------------------------------------------------------------------------


def log_path(log_dir: str | os.PathLike, name: str, job: int | str) -> Path:
    return Path(log_dir) / f"{name}.{job}.log"


def run_jobs(fn: Callable, args: list[tuple], cmd: str, log_dir: str | os.PathLike, name: str,
             on_progress: Callable[[int], None] | None = None) -> list:
    """`fn(*args[j-1])` for jobs j = 1..len(args) through `cmd`; the results in job order (see module doc).
    `on_progress(n)`: n more items done (local runs; fn calls `tick()` per item)."""
    backend, options = parse_cmd(cmd)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    fn_name = _function_name(fn)
    _resolve(fn_name)  # importable by name, as a Slurm task will need
    specs = [(fn_name, tuple(a), j, str(log_path(log_dir, name, j))) for j, a in enumerate(args, 1)]
    if backend == "slurm":
        outcomes = _run_slurm(specs, log_dir, name, options)
    elif len(specs) == 1:
        global _tick
        _tick = (lambda: on_progress(1)) if on_progress else None
        try:
            outcomes = [_local_job(specs[0])]
        finally:
            _tick = None
    else:
        ctx = mp.get_context("spawn")
        counter = ctx.Value("i", 0)
        with ctx.Pool(len(specs), initializer=_init_worker, initargs=(counter,)) as pool:
            result, seen = pool.map_async(_local_job, specs), 0
            while not result.ready():
                result.wait(0.2)
                if on_progress and counter.value > seen:
                    on_progress(counter.value - seen)
                    seen = counter.value
            if on_progress and counter.value > seen:
                on_progress(counter.value - seen)
            outcomes = result.get()
    failed = [(j, reason) for j, (ok, reason) in enumerate(outcomes, 1) if not ok]
    if failed:
        raise JobError(f"{name}: {len(failed)} of {len(specs)} jobs failed: "
                       + "; ".join(f"job {j} ({log_path(log_dir, name, j)}): {reason}" for j, reason in failed))
    return [result for _, result in outcomes]


def _result_path(log_dir: Path, name: str, job: int) -> Path:
    return log_dir / f".{name}.{job}.result"


def _run_slurm(specs: list, log_dir: Path, name: str, options: list[str]) -> list[tuple[bool, object]]:
    """Submit the jobs as one array with `sbatch --wait`; each task writes its outcome beside its log."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise ConfigError("--cmd slurm: sbatch not found on PATH (run on a Slurm submit host, or --cmd local)")
    spec_file = log_dir / f".{name}.spec"
    results = [_result_path(log_dir, name, j).resolve() for j in range(1, len(specs) + 1)]
    for path in results:
        path.unlink(missing_ok=True)
    _write_bytes(spec_file, pickle.dumps([(*spec, str(path)) for spec, path in zip(specs, results)]))
    script = log_dir / f".{name}.sbatch"
    _write_bytes(script, (f"#!/bin/bash\n# {name}: task $SLURM_ARRAY_TASK_ID of {len(specs)}\n"
                          f"exec {shlex.quote(sys.executable)} -m asr.parallel {shlex.quote(str(spec_file.resolve()))}"
                          f" \"$SLURM_ARRAY_TASK_ID\"\n").encode())
    argv = [sbatch, "--parsable", "--wait", f"--array=1-{len(specs)}", f"--job-name={name}",
            f"--output={log_path(log_dir, name, '%a').resolve()}", f"--chdir={os.getcwd()}", *options, str(script)]
    if shutil.which("stdbuf"):  # the job id as soon as it is printed (to cancel the array on an interrupt)
        argv = ["stdbuf", "-oL", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job_id = ""
    try:
        job_id = (proc.stdout.readline() or "").strip().split(";")[0]
        out, err = proc.communicate()
    except BaseException:
        if job_id:
            subprocess.run(["scancel", job_id], capture_output=True)
        proc.kill()
        raise
    if not job_id:
        first = next((line for line in err.splitlines() if line.strip()), f"exit status {proc.returncode}")
        raise JobError(f"{name}: sbatch failed: {first.strip()}")
    outcomes = []
    for (fn_name, args, j, lp), path in zip(specs, results):
        try:
            outcomes.append(pickle.loads(path.read_bytes()))
            path.unlink()
        except FileNotFoundError:  # the task died before writing its outcome (killed, node failure, ...)
            outcomes.append((False, f"Slurm task {job_id}_{j} left no result ({_last_line(Path(lp))})"))
    spec_file.unlink(missing_ok=True)
    script.unlink(missing_ok=True)
    return outcomes


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "empty log"


def _task_main(spec_file: str, task: str) -> int:
    """The entry of Slurm task `task`: run that job of the spec, log to stdout, write its outcome file."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as a local job; sbatch --cpus-per-task does not set it
    fn_name, args, job, _, result = pickle.loads(Path(spec_file).read_bytes())[int(task) - 1]
    outcome = _run_one(fn_name, args, job, sys.stdout)
    _write_bytes(Path(result), pickle.dumps(outcome))
    return 0 if outcome[0] else 1


if __name__ == "__main__":
    sys.exit(_task_main(*sys.argv[1:3]))
