"""The measured jobs. Each runs in a process of its own (`python -m bench.jobs JOB SPEC_JSON OUT_JSON`), so its
peak memory is its own; it sets the thread count once, first, and writes its timings (seconds per repeat) as
JSON. Every figure is taken several times; tools compared with each other alternate within each repeat."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path


def _setup(spec: dict) -> None:
    import torch

    torch.set_num_threads(spec["threads"])


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- features --------------------------------------------------------------------------------------------------


def feats_compare(spec: dict) -> dict:
    """Our feature stage against kaldi-native-fbank and librosa on the same audio: wav.scp in, ark/scp out."""
    from bench.baselines import FEATURE_TOOLS, warm_audio

    from asr.data.kaldi_files import read_table

    data, out = Path(spec["data"]), Path(spec["out"])
    wav = read_table(data / "wav.scp")
    warm_audio(wav)  # the audio in the page cache for every tool alike
    tools = {name: make(data, out / name) for name, make in FEATURE_TOOLS.items()}
    for run in tools.values():  # imports, first-call costs (librosa's numba, torch's kernels)
        run(limit=5)
    times = {name: [] for name in tools}
    for _ in range(spec["repeats"]):
        for name, run in tools.items():
            times[name].append(timed(run))
    return {"seconds": times}


def feats_scale(spec: dict) -> dict:
    """Our feature stage (`asr feats` without CMVN) on a data dir, several times."""
    from asr.features.extract import make_feats
    from bench.prepare import feature_config

    cfg = feature_config()
    return {"seconds": [timed(lambda: make_feats(spec["data"], cfg, progress=False)) for _ in range(spec["repeats"])]}


# ---- training --------------------------------------------------------------------------------------------------


def train_ours(spec: dict) -> dict:
    """Our training loop (`asr train`, the AN4 configuration) for `epochs` epochs; its frames/s per epoch as
    its log reports them (the epoch's input frames over its time, dev evaluation excluded)."""
    from asr.training.trainer import train
    from bench.prepare import train_config

    config = train_config()
    config["training"].update(epochs=spec["epochs"], num_threads=spec["threads"])
    exp = Path(spec["exp"])
    train(config, spec["train"], spec["dev"], spec["tokens"], exp, progress=False)
    rates = [float(m[1]) for m in re.finditer(r"epoch \d+: .* (\d+) frames/s", (exp / "log" / "train.log").read_text())]
    return {"frames_per_s": rates, "peak_rss_mb": peak_rss_mb()}


def train_ceiling(spec: dict) -> dict:
    from bench.baselines import train_ceiling as run

    return {"frames_per_s": run(spec)}


# ---- decoding --------------------------------------------------------------------------------------------------


def decode_compare(spec: dict) -> dict:
    """The decode stage (features to text) with each decoder, and the bare model forward on the same batches
    already in memory, alternating within each repeat."""
    from asr.decoding.config import DecoderConfig
    from asr.decoding.decode import decode_data_dir
    from bench.baselines import decode_ceiling

    out = Path(spec["out"])
    options = {
        "greedy": DecoderConfig(decoder="greedy", units=True),
        "beam": DecoderConfig(decoder="beam", beam_size=10, units=True),
        "lm": DecoderConfig(decoder="lm", beam_size=50, lm=spec["lm"], lexicon=spec["lexicon"], lm_weight=1.0,
                             word_score=0.0),
    }
    # the decode stage first, as in `asr decode`: it sets the oneDNN cache the ceiling then shares
    decode_data_dir(spec["model"], spec["data"], out / "warmup", progress=False, config=options["greedy"])
    ceiling = decode_ceiling(spec["model"], spec["data"])
    ceiling()
    times = {name: [] for name in ["ceiling", *options]}
    for _ in range(spec["repeats"]):
        times["ceiling"].append(timed(ceiling))
        for name, opts in options.items():
            times[name].append(timed(lambda: decode_data_dir(spec["model"], spec["data"], out / name,
                                                             progress=False, config=opts)))
    return {"seconds": times}


def decode_scale(spec: dict) -> dict:
    """The decode stage (greedy) on a data dir, several times."""
    from asr.decoding.config import DecoderConfig
    from asr.decoding.decode import decode_data_dir

    opts = DecoderConfig(decoder="greedy", units=True)
    return {"seconds": [timed(lambda: decode_data_dir(spec["model"], spec["data"], spec["out"], progress=False,
                                                      config=opts)) for _ in range(spec["repeats"])]}


# ---- scoring ---------------------------------------------------------------------------------------------------


def scoring_count_errors(spec: dict) -> dict:
    """`count_errors` on characters, as training's dev evaluation calls it: 300 seeded pairs of a 100- and a
    90-character utterance, several times."""
    import random

    from asr.scoring.align import count_errors

    rng = random.Random(2)
    letters = "abcdefghij klmnopqrstuvwxyz"
    pairs = [(list("".join(rng.choice(letters) for _ in range(100))),
              list("".join(rng.choice(letters) for _ in range(90)))) for _ in range(300)]
    count_errors(*pairs[0])
    run = lambda: [count_errors(ref, hyp) for ref, hyp in pairs]  # noqa: E731
    return {"utterances": len(pairs), "seconds": [timed(run) for _ in range(spec["repeats"])]}


def streaming_chunks(spec: dict) -> dict:
    """A stream session of the AN4 streaming config (random weights) fed 100 ms chunks: per-chunk CPU time and
    RTF (bench.streaming, docs/streaming.md)."""
    from bench.streaming import main as streaming

    return streaming(["--seconds", str(spec["seconds"]), "--threads", str(spec["threads"])])


JOBS = {f.__name__: f for f in (feats_compare, feats_scale, train_ours, train_ceiling, decode_compare, decode_scale,
                                scoring_count_errors, streaming_chunks)}


def main() -> None:
    name, spec_path, out_path = sys.argv[1:4]
    spec = json.loads(Path(spec_path).read_text())
    _setup(spec)
    result = JOBS[name](spec)
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
