"""What each optimisation bought: the code before and after it, side by side on the same data, alternating
within each repeat (medians). Uses the work dir `python -m bench.run` prepared.

    python -m bench.ablation [--threads 2] [--repeats 3] [--work bench/work]

- features: `compute_features` vs torchaudio's `compute_features_reference`, and headerless PCM read by numpy
  vs libsndfile, in the feature stage on the AN4 training set;
- training: the fused LSTM on padded batches vs packed sequences, the batched SpecAugment vs the former
  per-utterance loop, Dropout vs nn.Dropout, on the first training batches (asr.training.trainer.train_step:
  forward, CTC, backward, clipping, Adam step);
- training loop (`--only loop`, the 2-thread gap of #6): over all of an epoch's batches, with the bare
  ceiling (bench.baselines) alongside, the loop as `asr train` runs it vs each of its later changes undone: the
  dropout masks from `torch.rand`, Adam without `fused`, collation and SpecAugment in the loop (what the loader
  does when no core is spare, asr.training.loader), one batch ahead in a thread on one torch thread
  (`thread_loader`), and in the thread as before #22, whose ops ran on the process's thread count
  (`old_thread_loader`);
- decoding: the stage streaming batch by batch vs loading every utterance's features first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.prepare import REPO, Workspace, audio_seconds


def alternate(variants: dict, repeats: int) -> dict:
    """Seconds (median over repeats) of each variant's function, run in turn within each repeat."""
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def features(ws: Workspace, repeats: int) -> dict:
    import soundfile as sf

    import asr.audio
    import asr.features.extract as extract
    from asr.data.kaldi_files import read_table
    from asr.features.kaldi import compute_features
    from bench.baselines import compute_features_reference, ours, warm_audio

    warm_audio(read_table(Path(ws.train) / "wav.scp"))
    run = ours(Path(ws.train), Path(ws.root) / "runs" / "ablation_feats")
    fast_pcm = asr.audio._read_pcm16

    def libsndfile_pcm(path, raw):
        return sf.read(path, dtype="float32", always_2d=True, format="RAW", subtype=raw.subtype, endian=raw.endian,
                       samplerate=raw.sample_rate, channels=raw.channels)[0]

    def variant(fbank, pcm):
        def fn():
            extract.compute_features, asr.audio._read_pcm16 = fbank, pcm
            try:
                run()
            finally:
                extract.compute_features, asr.audio._read_pcm16 = compute_features, fast_pcm
        return fn

    secs = alternate({"after": variant(compute_features, fast_pcm),
                      "torchaudio_fbank": variant(compute_features_reference, fast_pcm),
                      "before": variant(compute_features_reference, libsndfile_pcm)}, repeats)
    audio = audio_seconds(ws.train)
    return {f"feats_x_realtime_{k}": audio / v for k, v in secs.items()}


def training(ws: Workspace, repeats: int, batches: int = 12) -> dict:
    import torch

    from asr.data.dataset import FeatureDataset
    from asr.data.sampler import BucketBatchSampler
    from asr.model.model import CTCModel, ModelConfig
    from asr.text.tokenizer import load_tokenizer
    from asr.training.augment import AugmentConfig, SpecAugment
    from asr.training.trainer import train_step
    from bench.prepare import train_config

    conf = train_config()
    tok = load_tokenizer(ws.tokens)
    data = FeatureDataset(ws.train, tok)
    mcfg = ModelConfig.from_dict({**conf["model"], "input_dim": data.feats[0].shape[1], "vocab_size": len(tok)})
    sampler = BucketBatchSampler(data.num_frames, conf["training"]["max_frames"], shuffle=True, seed=1)
    chosen = list(sampler)[:batches]
    frames = sum(data.num_frames[i] for b in chosen for i in b)
    acfg = AugmentConfig.from_dict(conf["augment"])
    torch.manual_seed(0)
    model = CTCModel(mcfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    new_aug, old_aug = SpecAugment(acfg), _LoopSpecAugment(acfg)
    fast_dropout, nn_dropout = model.encoder.dropout, torch.nn.Dropout(mcfg.dropout)

    def variant(packed: bool, augment, dropout=fast_dropout):
        def fn():
            model.encoder.dropout = dropout
            for rnn in model.encoder.rnns:
                rnn.takes_padded = not packed  # False: the Encoder packs, as before
            for indices in chosen:
                b = data.collate(indices)
                b.feats = augment(b.feats, b.lengths)
                train_step(model, opt, b, 5.0)
        return fn

    secs = alternate({"after": variant(False, new_aug), "packed": variant(True, new_aug),
                      "loop_specaugment": variant(False, old_aug), "nn_dropout": variant(False, new_aug, nn_dropout),
                      "before": variant(True, old_aug, nn_dropout)}, repeats)
    collated = [data.collate(b) for b in chosen]
    augment_ms = alternate({"after": lambda: [new_aug(b.feats, b.lengths) for b in collated],
                            "before": lambda: [old_aug(b.feats, b.lengths) for b in collated]}, repeats)
    out = {f"train_frames_per_s_{k}": frames / v for k, v in secs.items()}
    out.update({f"specaugment_ms_per_batch_{k}": 1000 * v / len(chosen) for k, v in augment_ms.items()})
    return out


def training_loop(ws: Workspace, repeats: int, only: set[str] | None = None) -> dict:
    import torch

    import asr.model.fused as fused
    from asr.data.dataset import FeatureDataset
    from asr.data.sampler import BucketBatchSampler
    from asr.model.model import CTCModel, ModelConfig
    from asr.text.tokenizer import load_tokenizer
    from asr.training.augment import AugmentConfig, SpecAugment
    from asr.training.loader import BatchLoader
    from asr.training.trainer import train_step
    from bench.baselines import ceiling_step
    from bench.prepare import train_config

    conf = train_config()
    tok = load_tokenizer(ws.tokens)
    data = FeatureDataset(ws.train, tok)
    mcfg = ModelConfig.from_dict({**conf["model"], "input_dim": data.feats[0].shape[1], "vocab_size": len(tok)})
    batches = list(BucketBatchSampler(data.num_frames, conf["training"]["max_frames"], shuffle=True, seed=1))
    frames = sum(data.num_frames[i] for b in batches for i in b)
    augment = SpecAugment(AugmentConfig.from_dict(conf["augment"]))
    loader = BatchLoader(data, augment, seed=1)  # as `asr train` makes it: in the loop when no core is spare
    thread_loader = BatchLoader(data, augment, seed=1, background=True)  # one ahead, in a thread on 1 torch thread

    class OldThreadLoader(BatchLoader):  # the loader before #22: ATen's lazy per-thread init undid its 1 thread
        def __init__(self):
            super().__init__(data, augment, seed=1, background=False)
            threads = torch.get_num_threads()
            self._pool = ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(1,))
            self._pool.submit(int).result()
            torch.set_num_threads(threads)

    old_loader = OldThreadLoader()

    padded_forward = fused.PaddedRNN.forward

    def masked_forward(self, x, lengths=None, zero_padding=True):  # before #22: padding zeroed after every layer
        return padded_forward(self, x, lengths, True)

    class RandDropout(torch.nn.Dropout):  # the former Dropout: its mask from torch.rand, one draw per element
        def forward(self, x):
            keep = 1.0 - self.p
            return x * torch.rand_like(x).lt_(keep).mul_(1.0 / keep)

    def ceiling(bare=False):
        step = ceiling_step(data, mcfg, len(tok), batches, 1e-4, 0, 5.0, bare)

        def fn():
            for indices in batches:
                step(indices)
        return fn

    def variant(rand_dropout=False, unfused=False, inline=False, batches_from=loader, dropout=True, augmented=True,
                mask_each_layer=False):
        torch.manual_seed(0)
        model = CTCModel(mcfg)
        if rand_dropout:
            model.encoder.dropout = RandDropout(mcfg.dropout)
        if not dropout:
            model.encoder.dropout = torch.nn.Identity()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=not unfused)

        def fn():
            fused.PaddedRNN.forward = masked_forward if mask_each_layer else padded_forward
            if inline or not augmented:
                made = (data.collate(indices) for indices in batches)
                if augmented:
                    made = (setattr(b, "feats", augment(b.feats, b.lengths)) or b for b in made)
            else:
                made = batches_from.epoch(1, list(enumerate(batches)))
            for b in made:
                train_step(model, opt, b, 5.0)
            fused.PaddedRNN.forward = padded_forward
        return fn

    variants = {  # made only when chosen: each builds a model, a ceiling every batch's inputs
        "ceiling": ceiling, "ceiling_bare": lambda: ceiling(bare=True), "after": variant,
        "rand_dropout": lambda: variant(rand_dropout=True), "unfused_adam": lambda: variant(unfused=True),
        "inline_loader": lambda: variant(inline=True), "thread_loader": lambda: variant(batches_from=thread_loader),
        "old_thread_loader": lambda: variant(batches_from=old_loader), "before": lambda: variant(True, True, True),
        "mask_each_layer": lambda: variant(mask_each_layer=True), "no_dropout": lambda: variant(dropout=False),
        "no_augment": lambda: variant(augmented=False)}
    chosen = {k: make() for k, make in variants.items() if only is None or k in only | {"ceiling"}}
    with loader, thread_loader, old_loader:
        secs = alternate(chosen, repeats)
    out = {f"loop_frames_per_s_{k}": frames / v for k, v in secs.items()}
    out.update({f"loop_ratio_{k}": secs["ceiling"] / v for k, v in secs.items() if k != "ceiling"})
    return out


class _LoopSpecAugment:
    """The former SpecAugment: torchaudio's masks, utterance by utterance (the reference of
    tests/training/test_augment_fast.py)."""

    def __init__(self, cfg):
        import torchaudio.transforms as T

        self.cfg, self.T = cfg, T
        self.freq = T.FrequencyMasking(cfg.freq_width) if cfg.freq_masks and cfg.freq_width else None

    def __call__(self, feats, lengths):
        out = feats.clone()
        for i, n in enumerate(lengths.tolist()):
            x = out[i, :n].T
            for _ in range(self.cfg.freq_masks if self.freq is not None else 0):
                x = self.freq(x)
            width = min(self.cfg.time_width, int(self.cfg.time_max_ratio * n))
            if width > 0:
                mask = self.T.TimeMasking(width)
                for _ in range(self.cfg.time_masks):
                    x = mask(x)
            out[i, :n] = x.T
        return out


def decoding(ws: Workspace, repeats: int) -> dict:
    import torch

    from asr.data.dataset import FeatureDataset
    from asr.decoding.config import DecoderConfig
    from asr.decoding.decode import batch_decoder, compute_log_probs, hypotheses, stream_log_probs
    from asr.model.store import load_model_dir

    loaded = load_model_dir(ws.model)
    opts = DecoderConfig(decoder="greedy", units=True)
    data = ws.scaled[1]

    def before():  # every utterance's features, then every utterance's log-probs, then decode one by one
        hypotheses(loaded, compute_log_probs(loaded, FeatureDataset(data), max_frames=20000), opts)

    def after():
        decode = batch_decoder(loaded, opts)
        for utts, log_probs, lengths in stream_log_probs(loaded, data):
            decode(log_probs, lengths)

    with torch.inference_mode():
        secs = alternate({"after": after, "before": before}, repeats)
    audio = audio_seconds(data)
    return {f"decode_greedy_x_realtime_{k}": audio / v for k, v in secs.items()}


def main(argv: list[str] | None = None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=REPO / "bench" / "work")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "work" / "ablation.json")
    p.add_argument("--only", choices=["features", "training", "loop", "decoding"], default=None)
    p.add_argument("--variants", default=None, help="loop: these variants only (comma-separated) beside the ceiling")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ws = Workspace.load(args.work.resolve(), smoke=False)
    if ws is None:
        raise SystemExit(f"bench: {args.work} is not prepared; run `python -m bench.run` first")
    res = {"threads": args.threads, "repeats": args.repeats}
    for name, fn in (("features", features), ("training", training), ("loop", training_loop),
                     ("decoding", decoding)):
        if args.only in (None, name):
            res.update(fn(ws, args.repeats, set(args.variants.split(","))) if name == "loop" and args.variants
                       else fn(ws, args.repeats))
            print(json.dumps(res, indent=1), flush=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
