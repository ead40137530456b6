"""The peer benchmark (`make bench-peers`): `asr train` and SpeechBrain on the same AN4 training set, same model size
(3 x 192 BiLSTM, stacking/subsampling 3, 36 phone outputs: 2,456,100 parameters each), same batch size (~4,700
input frames), SpecAugment on both, fp32, the same torch build; runs alternated, input frames/s per epoch and
the ratio. Not part of `make test` or CI (it installs SpeechBrain and runs for many minutes).

    python -m bench.peers.run [--threads 2] [--runs 2] [--epochs 3] [--work bench/work]

SpeechBrain goes into a venv of its own (bench/peers/.venv, never the project's), which sees the project venv's
packages through a .pth file: torch is the very same build on both sides, and only what SpeechBrain adds
(speechbrain, hyperpyyaml, ...) is installed there. Its side is bench/peers/speechbrain_an4.py; ours is
`bench.jobs train_ours` (`asr train` with egs/an4/conf/train.yaml), both in processes of their own with the
thread count set once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from bench.prepare import REPO, prepare
from bench.run import run_job

PEERS = Path(__file__).resolve().parent
VENV = PEERS / ".venv"
SPEECHBRAIN = "speechbrain==1.1.2"


def speechbrain_python(venv: Path = VENV, log=print) -> Path:
    """The venv's python, the venv made and SpeechBrain installed into it when missing."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import speechbrain"], capture_output=True).returncode == 0:
        return python
    log(f"installing {SPEECHBRAIN} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    Path(site, "project-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the same torch
    subprocess.run([python, "-m", "pip", "install", "--quiet", SPEECHBRAIN], check=True)
    return python


def manifest(train_dir: str, tokens: str, out: Path) -> Path:
    """SpeechBrain's JSON manifest of the training set: each utterance's WAV (written once from wav.scp, 16 kHz
    16-bit), its duration and its phone ids (our tokenizer's, so both sides learn the same targets)."""
    import soundfile as sf

    from asr.audio import load_audio
    from asr.data.dataset import FeatureDataset
    from asr.data.kaldi_files import read_table
    from asr.text.tokenizer import load_tokenizer

    path = out / "train.json"
    if path.is_file():
        return path
    data = FeatureDataset(train_dir, load_tokenizer(tokens))
    wav = read_table(Path(train_dir) / "wav.scp")
    (out / "wav").mkdir(parents=True, exist_ok=True)
    items = {}
    for utt, targets in zip(data.utt_ids, data.targets):
        samples = load_audio(wav[utt], 16000)
        dest = out / "wav" / f"{utt}.wav"
        sf.write(dest, samples, 16000, subtype="PCM_16")
        items[utt] = {"wav": str(dest), "duration": len(samples) / 16000,
                      "phones": " ".join(str(int(t)) for t in targets)}
    path.write_text(json.dumps(items, indent=0))
    return path


def run_speechbrain(python: Path, manifest_path: Path, epochs: int, threads: int, out: Path) -> list[float]:
    env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    env.pop("PYTHONPATH", None)
    with open(out.with_suffix(".log"), "w") as log:
        subprocess.run([python, PEERS / "speechbrain_an4.py", manifest_path, "--epochs", str(epochs),
                        "--threads", str(threads), "--out", out], check=True, cwd=out.parent, env=env, stdout=log,
                       stderr=subprocess.STDOUT)
    return json.loads(out.read_text())["frames_per_s"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=2, help="runs of each side, alternated")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run")
    p.add_argument("--work", type=Path, default=REPO / "bench" / "work")
    p.add_argument("--corpus", type=Path, default=None)
    args = p.parse_args(argv)
    start = time.time()
    log = lambda msg: print(f"[peers {time.time() - start:6.1f}s] {msg}", flush=True)  # noqa: E731
    corpus = args.corpus or Path(os.environ.get("ASR_CORPORA", REPO.parent / "shared" / "corpora")) / "an4"
    ws = prepare(args.work, corpus, False, log)
    out = Path(ws.root) / "peers"
    out.mkdir(exist_ok=True)
    python = speechbrain_python(log=log)
    sb_manifest = manifest(ws.train, ws.tokens, out)
    rates: dict[str, list[list[float]]] = {"asr train": [], "speechbrain": []}
    for r in range(args.runs):
        load = os.getloadavg()[0]
        spec = {"train": ws.train, "dev": ws.train_dev, "tokens": ws.tokens, "epochs": args.epochs,
                "exp": str(out / f"ours_{r}"), "tag": f"peers_ours_{r}"}
        if Path(spec["exp"]).exists():
            import shutil

            shutil.rmtree(spec["exp"])
        ours, _ = run_job("train_ours", spec, Path(ws.root), args.threads)
        rates["asr train"].append(ours["frames_per_s"])
        log(f"run {r + 1}: asr train {[round(x) for x in ours['frames_per_s']]} frames/s (load {load:.2f})")
        load = os.getloadavg()[0]
        theirs = run_speechbrain(python, sb_manifest, args.epochs, args.threads, out / f"speechbrain_{r}.json")
        rates["speechbrain"].append(theirs)
        log(f"run {r + 1}: speechbrain {[round(x) for x in theirs]} frames/s (load {load:.2f})")
    med = {k: statistics.median(x for run in v for x in run) for k, v in rates.items()}
    res = {"threads": args.threads, "runs": args.runs, "epochs": args.epochs, "frames_per_s": rates,
           "median_frames_per_s": med, "ratio": med["asr train"] / med["speechbrain"],
           "load_average_at_end": list(os.getloadavg())}
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    print(f"\n| {args.threads} threads | input frames/s (median of epochs) | epochs (per run) |\n|---|---:|---|")
    for k, v in rates.items():
        print(f"| {k} | {med[k]:,.0f} | {'; '.join(', '.join(f'{x:,.0f}' for x in run) for run in v)} |")
    print(f"\nasr train / speechbrain: {res['ratio']:.2f} ({args.runs} runs x {args.epochs} epochs each, alternated; "
          f"{time.time() - start:.0f} s; {out / 'results.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
