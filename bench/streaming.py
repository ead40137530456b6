"""Streaming compute cost (docs/streaming.md): per-chunk latency (p50, p95) and real-time factor of a stream
session on one thread, audio fed in chunks of --chunk-ms as a microphone would.

    python -m bench.streaming --conf egs/an4/conf/train_streaming.yaml [--seconds 60]   # random weights
    python -m bench.streaming --model egs/an4/exp/bilstm_ctc_phone_streaming audio.wav ...  # a trained model

The cost does not depend on the weights, so a model config alone (random weights, AN4's 80 fbank bins and 36
phone units) measures the same computation as the trained model. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from bench.prepare import REPO

AN4_STREAMING = REPO / "egs" / "an4" / "conf" / "train_streaming.yaml"


def random_model(conf: str, vocab: int = 40):
    from asr.config import load_config
    from asr.features.kaldi import FeatureConfig
    from asr.model.model import CTCModel, ModelConfig
    from asr.model.store import LoadedModel
    from asr.text.tokenizer import CharTokenizer

    cfg = dict(load_config(conf)["model"])
    cfg.update(input_dim=80, vocab_size=vocab)
    tokens = ["<blank>", "<unk>", "<space>"] + [chr(ord("a") + i % 26) + str(i) for i in range(vocab - 3)]
    model = CTCModel(ModelConfig.from_dict(cfg)).eval()
    return LoadedModel(model, CharTokenizer(tokens), FeatureConfig(), {})


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("audio", nargs="*", help="audio files (default: --seconds of noise)")
    p.add_argument("--model", help="a model dir or .asr file")
    p.add_argument("--conf", help="a training config: its model with random weights")
    p.add_argument("--chunk-ms", type=float, default=100.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--decoder", default="greedy")
    p.add_argument("--data-dir", help="stream every utterance of a Kaldi data dir (its wav.scp) instead")
    p.add_argument("--hyp-out", help="--data-dir: write the hypotheses here as a Kaldi text file (for asr score)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from asr.audio import load_audio
    from asr.transcribe import Transcriber

    if args.model:
        from asr.export.package import load_model

        loaded = load_model(args.model, "cpu")
    else:
        loaded = random_model(args.conf or str(AN4_STREAMING))
    rate = loaded.features.sample_rate
    transcriber = Transcriber(loaded, "cpu", decoder=args.decoder)
    keys = []
    if args.data_dir:
        from asr.data.datadir import DataDir

        utts = list(DataDir.load(args.data_dir).utterances())
        keys = [u.utt_id for u in utts]
        recordings = [load_audio(u.wav, rate, u.start_s, u.end_s) for u in utts]
    elif args.audio:
        recordings = [load_audio(a, rate) for a in args.audio]
    else:
        recordings = [(0.05 * np.random.default_rng(0).standard_normal(int(args.seconds * rate))).astype(np.float32)]
    step = int(args.chunk_ms / 1000 * rate)
    wall, cpu, audio_s = [], [], 0.0  # per chunk: elapsed time, and this thread's CPU time (what an idle core
    hyps, delays = [], []           # would take; on a shared machine the elapsed time includes waiting)
    for samples in recordings:
        session, seen = transcriber.stream(), []  # seen: (audio time, the words so far: final + partial)
        for pos in range(0, len(samples) + step, step):
            t0, c0 = time.perf_counter(), time.thread_time()
            if pos < len(samples):
                partial = session.accept(samples[pos:pos + step], rate).text
            else:
                session.finish()
                partial = ""
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            seen.append((min(pos + step, len(samples)) / rate, [w.word for w in session.words] + partial.split()))
        audio_s += len(samples) / rate
        hyps.append(" ".join(w.word for w in session.words))
        for j, word in enumerate(session.words):  # first shown (at its final place) - its end in the final result
            first = next(t for t, words in seen if len(words) > j and words[j] == word.word)
            delays.append(first - word.end_s)
    if args.hyp_out:
        from asr.fileio import atomic_write_text

        atomic_write_text(args.hyp_out, "".join(f"{k} {h}\n" for k, h in zip(keys, hyps)))
    cfg = loaded.model.config
    result = {"model": args.model or args.conf or "egs/an4/conf/train_streaming.yaml", "threads": args.threads,
              "chunk_ms": args.chunk_ms, "chunks": len(wall), "audio_s": round(audio_s, 1),
              "lookahead_frames": cfg.lookahead_frames, "decoder": args.decoder}
    if delays:  # the audio time a word first shows, minus its end time (CTC) in the final result: the look-ahead,
        # the chunking and the decoder's hesitation (not the model's own emission delay, which CTC times include)
        result["word_shown_after_end_p50_ms"] = round(float(np.percentile(delays, 50)) * 1000)
        result["word_shown_after_end_p95_ms"] = round(float(np.percentile(delays, 95)) * 1000)
    for name, times in (("cpu", cpu), ("wall", wall)):
        ms = np.array(times) * 1000
        result[f"{name}_chunk_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
        result[f"{name}_chunk_p95_ms"] = round(float(np.percentile(ms, 95)), 2)
        result[f"{name}_rtf"] = round(float(ms.sum() / 1000 / audio_s), 4)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
