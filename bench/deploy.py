"""Deployment figures (issue #23, docs/deploy.md): PyTorch fp32 / int8 and ONNX Runtime fp32 / int8 side by side
in one run, for a trained model and for a 4 x 320 model of random weights (timing only).

    python -m bench.deploy --model egs/an4/exp/model --data egs/an4/data/dev [--threads 1,2] [--repeats 5]
                           [--utts 16] [--e2e-utts 100] [--out bench/deploy.json]

Per backend: file size; forward time per second of audio at batch 1 (each utterance alone) and batch 16 (one
padded batch) on each thread count; end-to-end transcription (audio files -> words: `Transcriber` for PyTorch,
`asr.runtime.OnnxTranscriber` for ONNX; greedy) real-time factor and WER on the data dir's text; and a per-stage
profile at batch 1 on one thread (features, forward by operator, decoding). Variants alternate within every
repeat (the machine is shared); figures are medians. The load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from asr.data.kaldi_files import read_table
from asr.export.onnx import metadata, quantize_onnx, to_onnx_bytes, with_metadata
from asr.features.kaldi import compute_features
from asr.model.model import CTCModel, ModelConfig
from asr.model.quantize import quantize_model
from asr.model.store import LoadedModel, load_model_dir

VARIANTS = ("pytorch fp32", "pytorch int8", "onnx fp32", "onnx int8")


def session(data: bytes, threads: int, profile: str | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = profile
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def state_size(model: torch.nn.Module) -> int:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return len(buf.getvalue())


class Backends:
    """The four variants of one CTCModel: callables feats (N, T, D) numpy, lengths -> log-probs."""

    def __init__(self, model: CTCModel):
        self.model = model.eval()
        self.qmodel = quantize_model(model)
        self.onnx = {"onnx fp32": to_onnx_bytes(model)}
        self.onnx["onnx int8"] = quantize_onnx(self.onnx["onnx fp32"], "int8")
        self.sizes = {"pytorch fp32": state_size(self.model), "pytorch int8": state_size(self.qmodel),
                      **{k: len(v) for k, v in self.onnx.items()}}
        self.sessions: dict = {}

    def set_threads(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self.sessions = {k: session(v, threads) for k, v in self.onnx.items()}

    def forward(self, variant: str, feats: np.ndarray, lengths: np.ndarray):
        if variant.startswith("pytorch"):
            model = self.model if variant == "pytorch fp32" else self.qmodel
            with torch.inference_mode():
                return model(torch.from_numpy(feats), torch.from_numpy(lengths))[0].numpy()
        return self.sessions[variant].run(None, {"feats": feats, "lengths": lengths})[0]


def pad(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(f) for f in feats], np.int64)
    out = np.zeros((len(feats), int(lengths.max()), feats[0].shape[1]), np.float32)
    for i, f in enumerate(feats):
        out[i, :len(f)] = f
    return out, lengths


def time_forward(backends: Backends, feats: list[np.ndarray], threads: list[int], repeats: int) -> dict:
    """Seconds of forward per second of audio: {threads: {batch: {variant: median}}}."""
    audio_s = sum(len(f) for f in feats) / 100.0
    singles = [pad([f]) for f in feats]
    batch = pad(feats)
    out: dict = {}
    for t in threads:
        backends.set_threads(t)
        times = {b: defaultdict(list) for b in (1, 16)}
        for v in VARIANTS:  # warm-up
            backends.forward(v, *singles[0])
        for _ in range(repeats):
            for v in VARIANTS:
                t0 = time.perf_counter()
                for x, n in singles:
                    backends.forward(v, x, n)
                times[1][v].append((time.perf_counter() - t0) / audio_s)
                t0 = time.perf_counter()
                backends.forward(v, *batch)
                times[16][v].append((time.perf_counter() - t0) / audio_s)
        out[t] = {b: {v: statistics.median(ts) for v, ts in times[b].items()} for b in times}
    return out


def profile(backends: Backends, wavs: list[str], feats: list[np.ndarray], loaded: LoadedModel, work: Path) -> dict:
    """Per-stage seconds per audio second at batch 1, one thread: features (PyTorch / NumPy), forward split by
    operator (torch.profiler / onnxruntime's profiler), greedy decoding."""
    import soundfile as sf

    from asr.decoding.spans import greedy_spans
    from asr.runtime.features import compute_features as np_features

    backends.set_threads(1)
    audio = [sf.read(w, dtype="float32")[0] for w in wavs]
    audio_s = sum(len(a) for a in audio) / loaded.features.sample_rate
    cfg = loaded.features
    opts = cfg.to_dict()
    res: dict = {}
    for name, fn in (("features pytorch", lambda a: compute_features(a, cfg)), ("features numpy",
                                                                                lambda a: np_features(a, opts))):
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            for a in audio:
                fn(a)
            ts.append(time.perf_counter() - t0)
        res[name] = min(ts) / audio_s
    singles = [pad([f]) for f in feats]
    log_probs = [backends.forward("onnx fp32", x, n)[0] for x, n in singles]
    t0 = time.perf_counter()
    for lp in log_probs:
        greedy_spans(lp)
    res["decode greedy"] = (time.perf_counter() - t0) / audio_s
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for variant in ("pytorch fp32", "pytorch int8"):
        model = backends.model if variant == "pytorch fp32" else backends.qmodel
        with torch.inference_mode(), torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for x, n in singles:
                model(torch.from_numpy(x), torch.from_numpy(n))
        ops = {e.key: e.self_cpu_time_total / 1e6 / audio_s for e in prof.key_averages()}
        res[variant] = dict(sorted(ops.items(), key=lambda kv: -kv[1])[:8])
    for variant in ("onnx fp32", "onnx int8"):
        s = session(backends.onnx[variant], 1, str(work / variant.replace(" ", "_")))
        for x, n in singles:
            s.run(None, {"feats": x, "lengths": n})
        trace = json.loads(Path(s.end_profiling()).read_text())
        ops: dict = defaultdict(float)
        for e in trace:
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                ops[e["args"]["op_name"]] += e["dur"] / 1e6 / audio_s
        res[variant] = dict(sorted(ops.items(), key=lambda kv: -kv[1])[:8])
    return res


def end_to_end(backends: Backends, loaded: LoadedModel, wavs: list[str], refs: list[str], work: Path) -> dict:
    """Transcribe the files (greedy, one thread) with each variant: real-time factor, WER, transcripts."""
    import kaldialign

    from asr.runtime import OnnxTranscriber
    from asr.transcribe import Transcriber

    backends.set_threads(1)
    audio_s = sum(__import__("soundfile").info(w).duration for w in wavs)
    out: dict = {}
    for variant in VARIANTS:
        if variant.startswith("pytorch"):
            model = backends.model if variant == "pytorch fp32" else backends.qmodel
            tr = Transcriber(LoadedModel(model, loaded.tokenizer, loaded.features, loaded.config), "cpu",
                             decoder="greedy", word_times="ctc")
        else:
            path = work / f"{variant.replace(' ', '_')}.onnx"
            path.write_bytes(with_metadata(backends.onnx[variant], metadata(loaded)))
            tr = OnnxTranscriber(path, "greedy", threads=1)
        t0 = time.perf_counter()
        hyps = [t.text for t in tr.transcribe_many(wavs)]
        elapsed = time.perf_counter() - t0
        errors = sum(kaldialign.edit_distance(r.split(), h.split())["total"] for r, h in zip(refs, hyps))
        words = sum(len(r.split()) for r in refs)
        out[variant] = {"rtf": elapsed / audio_s, "wer": 100.0 * errors / words, "hyps": hyps}
    return out


def as_file(key: str, spec: str, work: Path) -> str:
    """A wav.scp entry as a plain audio file (a pipe is read once and written as 16-bit WAV)."""
    from asr.audio import is_pipe, read_audio

    if not is_pipe(spec):
        return spec
    import soundfile as sf

    data, rate = read_audio(spec)
    path = work / f"{key}.wav"
    sf.write(path, data, rate, subtype="PCM_16")
    return str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a trained model dir")
    p.add_argument("--data", required=True, help="a data dir (wav.scp of plain files, text)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--utts", type=int, default=16, help="utterances timed in the forward figures")
    p.add_argument("--e2e-utts", type=int, default=0, help="utterances transcribed end to end (0: all)")
    p.add_argument("--out", default="bench/deploy.json")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    load_before = os.getloadavg()
    loaded = load_model_dir(args.model)
    wav = read_table(Path(args.data) / "wav.scp")
    text = read_table(Path(args.data) / "text")
    keys = sorted(wav)
    e2e_keys = keys[:args.e2e_utts] if args.e2e_utts else keys
    from asr.audio import load_audio

    timed_keys = e2e_keys[:args.utts]
    feats = [compute_features(load_audio(wav[k], loaded.features.sample_rate), loaded.features).numpy()
             for k in timed_keys]
    results: dict = {"model": args.model, "data": args.data, "load_before": load_before}
    work = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    wav = {k: as_file(k, wav[k], work) for k in e2e_keys}  # Kaldi pipes (AN4's sox) -> wav files, read by both
    trained = Backends(loaded.model)
    print(f"[{time.strftime('%H:%M:%S')}] timing the trained model", flush=True)
    results["trained"] = {"config": loaded.model.config.to_dict(), "sizes": trained.sizes,
                          "forward": time_forward(trained, feats, threads, args.repeats)}
    print(f"[{time.strftime('%H:%M:%S')}] end to end", flush=True)
    e2e = end_to_end(trained, loaded, [wav[k] for k in e2e_keys], [text[k] for k in e2e_keys], work)
    same = sum(a == b for a, b in zip(e2e["pytorch fp32"]["hyps"], e2e["onnx fp32"]["hyps"]))
    results["trained"]["end_to_end"] = {v: {k: x for k, x in r.items() if k != "hyps"} for v, r in e2e.items()}
    results["trained"]["fp32_identical_transcripts"] = f"{same}/{len(e2e_keys)}"
    print(f"[{time.strftime('%H:%M:%S')}] profile", flush=True)
    results["trained"]["profile"] = profile(trained, [wav[k] for k in timed_keys], feats, loaded, work)
    torch.manual_seed(0)
    big = CTCModel(ModelConfig(input_dim=feats[0].shape[1], vocab_size=30, num_layers=4, hidden_size=320)).eval()
    rng = np.random.default_rng(0)
    big_feats = [rng.standard_normal(f.shape).astype(np.float32) for f in feats]
    print(f"[{time.strftime('%H:%M:%S')}] timing 4 x 320", flush=True)
    b = Backends(big)
    results["4x320"] = {"sizes": b.sizes, "forward": time_forward(b, big_feats, threads, args.repeats)}
    results["audio_s_timed"] = sum(len(f) for f in feats) / 100.0
    results["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(table(results))


def table(r: dict) -> str:
    lines = []
    for name in ("trained", "4x320"):
        part = r[name]
        threads = list(part["forward"])
        head = "| variant | size MB | " + " | ".join(f"fwd s/audio-s b{b} t{t}" for t in threads for b in (1, 16))
        e2e = part.get("end_to_end")
        head += " | e2e RTF | WER % |" if e2e else " |"
        lines += [f"\n{name}", head, "|" + "---|" * (head.count("|") - 1)]
        for v in VARIANTS:
            row = f"| {v} | {part['sizes'][v] / 1e6:.2f} | "
            row += " | ".join(f"{part['forward'][t][b][v]:.4f}" for t in threads for b in (1, 16))
            row += f" | {e2e[v]['rtf']:.4f} | {e2e[v]['wer']:.2f} |" if e2e else " |"
            lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
