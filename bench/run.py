"""The benchmark suite (`make bench`): features, training and decoding of the toolkit against the same work done
by other tools and by bare PyTorch, on AN4, and the scorer's speed; writes bench/results.json and prints a table
(docs/benchmarks.md).

    python -m bench.run [--threads 2] [--repeats 3] [--smoke] [--work bench/work] [--out bench/results.json]

Each job runs in a process of its own (bench.jobs) with the thread count set once; its peak memory comes from
the kernel (wait4). Figures are medians over repeats; ratios compare figures of the same run. --smoke: generated
audio, one repeat, a few seconds (the unit test); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.prepare import REPO, SCALES, Workspace, audio_seconds, prepare

GOALS = {  # key: (comparison, threshold), the goals on this machine
    "train_ratio": (">=", 0.9),
    "feats_x_realtime": (">=", 1000.0),
    "decode_ratio": (">=", 0.85),
    "decode_greedy_x_realtime": (">=", 150.0),
    "decode_lm_x_realtime": (">=", 50.0),
    "scaling_time_per_audio_16x_feats": ("<=", 1.10),
    "scaling_time_per_audio_16x_decode": ("<=", 1.10),
    "scaling_memory_growth_16x_feats_mb": ("<=", 50.0),
    "scaling_memory_growth_16x_decode_mb": ("<=", 50.0),
    "scoring_count_errors_utts_per_s": (">=", 100.0),  # training's dev CER: 300 utterances well within 3 s
    "streaming_cpu_rtf": ("<=", 0.1),  # docs/streaming.md: one core
}
CEILING_RATIOS = ("train_ratio", "decode_ratio")  # ours over a ceiling: the same work at its fastest
BROKEN_ABOVE = 1.05  # a ceiling this much slower than the loop it bounds is a broken measurement, not a goal met


def run_job(name: str, spec: dict, work: Path, threads: int, in_process: bool = False) -> tuple[dict, float]:
    """Run bench.jobs `name` in a new process; its result and its peak resident memory (MB).
    `in_process` (smoke mode): in this process, whose peak memory so far is reported."""
    if in_process:
        from bench import jobs as bench_jobs

        bench_jobs._setup({**spec, "threads": threads})
        return bench_jobs.JOBS[name]({**spec, "threads": threads}), bench_jobs.peak_rss_mb()
    jobs = work / "jobs"
    jobs.mkdir(exist_ok=True)
    tag = spec.get("tag", name)
    spec_path, out_path = jobs / f"{tag}.spec.json", jobs / f"{tag}.out.json"
    spec_path.write_text(json.dumps({**spec, "threads": threads}))
    out_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)  # numpy, scipy and numba (librosa) get the same thread count as torch
    with open(jobs / f"{tag}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.jobs", name, str(spec_path), str(out_path)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (jobs / f"{tag}.log").read_text().strip().splitlines()[-5:]
        raise SystemExit(f"bench: job {tag} failed (exit {proc.returncode}); {jobs / f'{tag}.log'}:\n" + "\n".join(tail))
    return json.loads(out_path.read_text()), usage.ru_maxrss / 1024


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine(threads: int) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform(),
            "load_average_at_start": list(os.getloadavg())}


def run_suite(ws: Workspace, threads: int, repeats: int, log=print) -> dict:
    work = Path(ws.root)
    runs = work / "runs"
    res: dict = {}
    small = 1 if ws.smoke else repeats
    job = lambda name, spec: run_job(name, spec, work, threads, in_process=ws.smoke)  # noqa: E731

    log("features: ours vs kaldi-native-fbank vs librosa")
    out, _ = job("feats_compare", {"data": ws.train, "out": str(runs / "feats_compare"), "repeats": repeats})
    audio = audio_seconds(ws.train)
    for name, times in out["seconds"].items():
        key = "feats_x_realtime" + ("" if name == "ours" else f"_{name}")
        res[key] = audio / median(times)
    res["feats_audio_s"] = audio

    log("training: our loop vs the ceiling, alternating")
    import shutil

    # Ceiling and loop in alternating processes, C O C O ... C (`repeats` of ours): each of our runs is compared
    # with the mean of the ceiling runs on either side of it, so drift in the machine's speed biases neither, and
    # train_ratio is the median of those ratios. Each process's first epoch warms up (allocator, oneDNN
    # primitives) and is left out. The bare ceiling (no dropout or clipping) runs once, last: a figure, not a goal.
    spec = {"train": ws.train, "dev": ws.train_dev, "tokens": ws.tokens, "epochs": 2 if ws.smoke else 3,
            "exp": str(runs / "train")}
    ceilings, ours_runs = [], []
    for k in range(small):
        ceilings.append(job("train_ceiling", {**spec, "tag": f"train_ceiling_{k}"})[0]["frames_per_s"])
        shutil.rmtree(runs / "train", ignore_errors=True)  # a fresh run, not a resumed one
        ours, rss_train = job("train_ours", {**spec, "tag": f"train_ours_{k}"})
        ours_runs.append(ours["frames_per_s"])
    ceilings.append(job("train_ceiling", {**spec, "tag": f"train_ceiling_{small}"})[0]["frames_per_s"])
    bare, _ = job("train_ceiling", {**spec, "tag": "train_ceiling_bare", "bare": True})
    measured = lambda rates: rates[1:] or rates  # noqa: E731
    ratios = [median(measured(o)) / ((median(measured(c0)) + median(measured(c1))) / 2)
              for o, c0, c1 in zip(ours_runs, ceilings, ceilings[1:])]
    res["train_frames_per_s"] = median([r for o in ours_runs for r in measured(o)])
    res["train_ceiling_frames_per_s"] = median([r for c in ceilings for r in measured(c)])
    res["train_ceiling_bare_frames_per_s"] = median(measured(bare["frames_per_s"]))
    res["train_epochs_frames_per_s"] = {"ours": ours_runs, "ceiling": ceilings, "ceiling_bare": bare["frames_per_s"]}
    res["train_ratios"] = ratios
    res["train_ratio"] = median(ratios)
    res["train_ratio_bare"] = res["train_frames_per_s"] / res["train_ceiling_bare_frames_per_s"]

    log("scaling: features and greedy decoding at " + ", ".join(f"{k}x" for k in SCALES))
    scaling = {"feats": {}, "decode": {}}
    for k in SCALES:
        data = ws.scaled[k]
        out, rss = job("feats_scale", {"data": data, "repeats": small, "tag": f"feats_x{k}"})
        scaling["feats"][k] = {"audio_s": audio_seconds(data), "seconds": median(out["seconds"]), "peak_rss_mb": rss}
    for k in SCALES:
        data = ws.scaled[k]
        out, rss = job("decode_scale", {"data": data, "model": ws.model, "repeats": small, "tag": f"decode_x{k}",
                                            "out": str(runs / f"decode_x{k}")})
        scaling["decode"][k] = {"audio_s": audio_seconds(data), "seconds": median(out["seconds"]), "peak_rss_mb": rss}
    res["scaling"] = scaling
    top = max(SCALES)
    for stage, rows in scaling.items():
        per_audio = {k: r["seconds"] / r["audio_s"] for k, r in rows.items()}
        res[f"scaling_time_per_audio_{top}x_{stage}"] = per_audio[top] / per_audio[1]
        res[f"scaling_memory_growth_{top}x_{stage}_mb"] = rows[top]["peak_rss_mb"] - rows[1]["peak_rss_mb"]

    log("decoding: greedy, beam, lexicon + LM vs the bare forward")
    data = ws.scaled[1]
    out, rss_decode = job("decode_compare", {"data": data, "model": ws.model, "lm": ws.lm, "lexicon": ws.lexicon,
                                            "repeats": repeats, "out": str(runs / "decode")})
    audio = audio_seconds(data)
    for name, times in out["seconds"].items():
        res[f"decode_{name}_x_realtime"] = audio / median(times)
    res["decode_ratio"] = res["decode_greedy_x_realtime"] / res["decode_ceiling_x_realtime"]
    res["decode_audio_s"] = audio
    res["peak_rss_mb"] = {"train": ours["peak_rss_mb"], "train_process": rss_train,
                          "decode": scaling["decode"][1]["peak_rss_mb"], "decode_all_decoders_process": rss_decode}

    log("scoring: count_errors on 100-character utterances")
    out, _ = job("scoring_count_errors", {"repeats": repeats})
    res["scoring_count_errors_utts_per_s"] = out["utterances"] / median(out["seconds"])

    log("streaming: a stream session (LC-BLSTM, AN4 streaming config) fed 100 ms chunks")
    out, _ = job("streaming_chunks", {"seconds": 2 if ws.smoke else 60})
    for key in ("cpu_chunk_p50_ms", "cpu_chunk_p95_ms", "cpu_rtf", "wall_rtf"):
        res[f"streaming_{key}"] = out[key]
    return res


def check_goals(res: dict) -> dict:
    goals = {}
    for key, (op, limit) in GOALS.items():
        value = res[key]
        goals[key] = {"goal": f"{op} {limit:g}", "met": value >= limit if op == ">=" else value <= limit}
        if key in CEILING_RATIOS and value > BROKEN_ABOVE:
            goals[key].update(met=False, broken=f"above {BROKEN_ABOVE:g}: the ceiling does not bound; a broken "
                                                f"measurement")
    if "feats_x_realtime_kaldi_native_fbank" in res:
        goals["feats_vs_kaldi_native_fbank"] = {
            "goal": ">= 1", "met": res["feats_x_realtime"] >= res["feats_x_realtime_kaldi_native_fbank"]}
    return goals


def table(res: dict) -> str:
    """The results as a Markdown table (printed, and pasted into docs/benchmarks.md)."""
    goals = res["goals"]
    rows = [("feats_x_realtime", "x real time", "features: ours (wav.scp -> ark/scp)"),
            ("feats_x_realtime_kaldi_native_fbank", "x real time", "features: kaldi-native-fbank, same pipeline"),
            ("feats_x_realtime_librosa", "x real time", "features: librosa, same pipeline"),
            ("train_frames_per_s", "frames/s", "training: our loop (asr train, AN4 config)"),
            ("train_ceiling_frames_per_s", "frames/s", "training: the same model's step at its fastest: fused "
             "nn.LSTM per layer + our dropout + Linear + CTC + clipping + fused Adam, inputs in memory"),
            ("train_ratio", "", "training: ours / ceiling"),
            ("train_ceiling_bare_frames_per_s", "frames/s", "training: the bare ceiling (no dropout, no clipping; "
             "the ceiling before 2026-12-03), after our loop"),
            ("train_ratio_bare", "", "training: ours / bare ceiling (not a goal: a cheaper model than ours)"),
            ("decode_greedy_x_realtime", "x real time", "decoding: greedy, features to text"),
            ("decode_beam_x_realtime", "x real time", "decoding: prefix beam 10"),
            ("decode_lm_x_realtime", "x real time", "decoding: lexicon + 3-gram LM, beam 50"),
            ("decode_ceiling_x_realtime", "x real time", "decoding: bare model forward, in memory"),
            ("decode_ratio", "", "decoding: greedy / ceiling"),
            ("scoring_count_errors_utts_per_s", "utts/s", "scoring: count_errors, 100 characters (training's dev CER)"),
            ("streaming_cpu_chunk_p50_ms", "ms", "streaming: CPU time per 100 ms chunk, p50 (LC-BLSTM 3 x 192)"),
            ("streaming_cpu_chunk_p95_ms", "ms", "streaming: CPU time per 100 ms chunk, p95"),
            ("streaming_cpu_rtf", "", "streaming: real-time factor, CPU time of one thread")]
    goal_of = {"feats_x_realtime_kaldi_native_fbank": "feats_vs_kaldi_native_fbank"}
    lines = ["| figure | value | unit | what | goal | met |", "|---|---:|---|---|---|---|"]
    for key, unit, what in rows:
        g = goals.get(key) or (goals.get(goal_of[key]) if key in goal_of else None)
        goal = ("ours >= this" if key in goal_of else g["goal"]) if g else ""
        met = ("**broken measurement**" if g.get("broken") else "yes" if g["met"] else "**no**") if g else ""
        lines.append(f"| `{key}` | {_fmt(res[key])} | {unit} | {what} | {goal} | {met} |")
    for which in ("train", "decode"):
        lines.append(f"| `peak_rss_mb.{which}` | {res['peak_rss_mb'][which]:.0f} | MB | peak memory, {which} | | |")
    lines += ["", "| stage | data | audio (s) | time (s) | x real time | peak memory (MB) |",
              "|---|---:|---:|---:|---:|---:|"]
    for stage, scales in res["scaling"].items():
        for k, r in scales.items():
            lines.append(f"| {stage} | {k}x | {r['audio_s']:.0f} | {r['seconds']:.2f} | "
                         f"{r['audio_s'] / r['seconds']:.0f} | {r['peak_rss_mb']:.0f} |")
    top = max(SCALES)
    lines += ["", "| scaling 1x -> 16x | time per audio second (16x / 1x) | memory growth (MB) | met |",
              "|---|---:|---:|---|"]
    for stage in ("feats", "decode"):
        t, m = f"scaling_time_per_audio_{top}x_{stage}", f"scaling_memory_growth_{top}x_{stage}_mb"
        met = "yes" if goals[t]["met"] and goals[m]["met"] else "**no**"
        lines.append(f"| {stage} | {res[t]:.3f} (goal <= 1.10) | {res[m]:+.0f} (goal <= 50) | {met} |")
    return "\n".join(lines)


DOC = REPO / "docs" / "benchmarks.md"
DOC_BEGIN, DOC_END = "<!-- bench:results begin -->", "<!-- bench:results end -->"


def results_section(res: dict, command: str) -> str:
    """The Results section of docs/benchmarks.md: when, how, on what, and the tables."""
    m = res["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    model = Path(res["model_dir"])
    model = model.relative_to(REPO) if model.is_relative_to(REPO) else model
    return (f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `{command}` ({res['wall_s']:.0f} s); "
            f"{m['cpu']}, {m['cores']} cores, torch threads: {m['threads']}, torch {m['torch']}, Python {m['python']}; "
            f"load average at the start {load}; model: {res['model']} ({model}); "
            f"{res['repeats']} repeats.\n\n{table(res)}\n")


def update_doc(res: dict, command: str, doc: Path = DOC) -> None:
    """Replace the text between the results markers of docs/benchmarks.md with this run's."""
    from asr.fileio import atomic_write_text

    text = doc.read_text()
    a, b = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
    atomic_write_text(doc, text[:a] + "\n" + results_section(res, command) + text[b:])


def _fmt(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch (and BLAS) threads in every job")
    p.add_argument("--repeats", type=int, default=3, help="repeats per figure (the median is kept)")
    p.add_argument("--smoke", action="store_true", help="generated audio, one repeat: checks the plumbing")
    p.add_argument("--work", type=Path, default=REPO / "bench" / "work", help="scratch dir (kept between runs)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    p.add_argument("--corpus", type=Path, default=None, help="AN4 corpus dir (default: $ASR_CORPORA/an4)")
    p.add_argument("--update-doc", action="store_true", help=f"write the tables into {DOC.relative_to(REPO)}")
    args = p.parse_args(argv)
    start = time.time()
    corpus = args.corpus or (Path(os.environ["ASR_CORPORA"]) / "an4" if os.environ.get("ASR_CORPORA")
                             else REPO.parent / "shared" / "corpora" / "an4")
    repeats = 1 if args.smoke else args.repeats
    log = lambda msg: print(f"[bench {time.time() - start:6.1f}s] {msg}", flush=True)  # noqa: E731
    ws = prepare(args.work, corpus, args.smoke, log)
    res = {"smoke": args.smoke, "model": ws.model_kind, "model_dir": str(Path(ws.model).resolve()), "repeats": repeats,
           "machine": machine(args.threads)}
    res.update(run_suite(ws, args.threads, repeats, log))
    res["goals"] = check_goals(res)
    res["wall_s"] = time.time() - start
    res["machine"]["load_average_at_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from asr.fileio import atomic_write_text

    atomic_write_text(args.out, json.dumps(res, indent=1) + "\n")
    print(table(res))
    for key, g in res["goals"].items():
        if g.get("broken"):
            print(f"bench: {key} = {res[key]:.3f}, {g['broken']}", file=sys.stderr)
    print(f"\nmodel: {ws.model_kind} ({ws.model}); {args.threads} threads; {repeats} repeats; "
          f"{res['wall_s']:.0f} s; {args.out}")
    if args.update_doc and not args.smoke:
        update_doc(res, f"python -m bench.run --threads {args.threads} --repeats {repeats}")
        print(f"{DOC}: results updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
