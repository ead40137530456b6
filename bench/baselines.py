"""What our stages are measured against: other feature extractors run through the same pipeline (audio from
wav.scp, features to ark/scp), and the ceilings, bare PyTorch doing the same arithmetic as our training and
decoding on tensors already in memory. The feature references (kaldi-native-fbank's options for our
configuration, torchaudio's Kaldi fbank/MFCC) are also what the tests compare `compute_features` with."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from asr.features.kaldi import FeatureConfig


def warm_audio(wav: dict[str, str]) -> None:
    """Read every audio file once, so that no tool pays for the first read from disk."""
    from asr.audio import load_audio

    for spec in wav.values():
        load_audio(spec)


def kaldi_native_fbank_options(config: FeatureConfig):
    """kaldi-native-fbank's FbankOptions for the same fbank as `config` (no dither, no energy): the C++
    implementation of Kaldi's algorithm that tests and `make bench` compare ours with."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = config.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.frame_length_ms = config.frame_length_ms
    opts.frame_opts.frame_shift_ms = config.frame_shift_ms
    opts.frame_opts.snip_edges = config.snip_edges
    opts.mel_opts.num_bins = config.num_mel_bins
    opts.mel_opts.low_freq = config.low_freq
    opts.mel_opts.high_freq = config.high_freq
    opts.use_energy = False
    return opts


def compute_features_reference(samples: np.ndarray | torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """`asr.features.kaldi.compute_features` through `torchaudio.compliance.kaldi`: the slower reference ours is
    tested against, and the ablation's "before"."""
    import torch
    from torchaudio.compliance import kaldi

    from asr.features.kaldi import DITHER_SEED

    wave = torch.as_tensor(samples, dtype=torch.float32).reshape(1, -1) * 32768.0
    if config.dither:
        noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(DITHER_SEED))
        wave = wave + config.dither * noise
    common = dict(
        sample_frequency=config.sample_rate, frame_length=config.frame_length_ms, frame_shift=config.frame_shift_ms,
        dither=0.0, preemphasis_coefficient=config.preemphasis_coefficient, low_freq=config.low_freq,
        high_freq=config.high_freq, use_energy=config.use_energy, energy_floor=config.energy_floor,
        snip_edges=config.snip_edges, window_type=config.window_type, num_mel_bins=config.num_mel_bins,
    )
    min_len = int(config.sample_rate * config.frame_length_ms / 1000)
    if wave.shape[1] < min_len:  # shorter than one frame: Kaldi gives no frames
        return torch.zeros(0, config.dim)
    if config.kind == "fbank":
        return kaldi.fbank(wave, **common)
    return kaldi.mfcc(wave, num_ceps=config.num_ceps, **common)


def _copy_data_dir(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("wav.scp", "utt2spk", "spk2utt", "text", "utt2dur"):
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    return dst


def ours(data: Path, out: Path):
    """`asr feats` without CMVN (make_feats) on a copy of the data dir; features into `out`."""
    from asr.data.subset import subset_data_dir
    from asr.features.extract import make_feats
    from bench.prepare import feature_config

    cfg = feature_config()
    full = _copy_data_dir(data, out / "data")
    few = out / "data_few"
    subset_data_dir(full, few, 5, how="first")

    def run(limit: int | None = None):
        make_feats(few if limit else full, cfg, out / "ark", progress=False)

    return run


def _per_utterance(data: Path, out: Path, compute):
    """A feature stage around `compute(samples) -> (T, D) array`: each utterance's audio from wav.scp as our
    stage reads it, its features written to an ark/scp pair with kaldiio, as our stage writes them."""
    import kaldiio

    from asr.audio import load_audio
    from asr.data.kaldi_files import read_table

    wav = read_table(data / "wav.scp")
    utts = sorted(wav)
    out.mkdir(parents=True, exist_ok=True)

    def run(limit: int | None = None):
        with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as writer:
            for utt in utts[:limit]:
                writer(utt, compute(load_audio(wav[utt], 16000)))

    return run


def kaldi_native_fbank(data: Path, out: Path):
    """kaldi-native-fbank (C++, Kaldi's algorithm) with our options, its fastest Python use (a list of samples)."""
    import kaldi_native_fbank as knf

    from bench.prepare import feature_config

    cfg = feature_config()
    opts = kaldi_native_fbank_options(cfg)

    def compute(samples: np.ndarray) -> np.ndarray:
        fb = knf.OnlineFbank(opts)
        fb.accept_waveform(cfg.sample_rate, (samples * 32768).tolist())
        fb.input_finished()
        return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])

    return _per_utterance(data, out, compute)


def librosa_fbank(data: Path, out: Path):
    """librosa's log-mel: 25 ms Hann windows every 10 ms, 512-point FFT, 80 HTK-mel bands from 20 Hz, the mel
    matrix built once (as ours); not Kaldi's exact algorithm, the same amount of work."""
    import librosa

    from bench.prepare import feature_config

    cfg = feature_config()
    win, hop = int(cfg.sample_rate * cfg.frame_length_ms / 1000), int(cfg.sample_rate * cfg.frame_shift_ms / 1000)
    mel = librosa.filters.mel(sr=cfg.sample_rate, n_fft=512, n_mels=cfg.num_mel_bins, fmin=cfg.low_freq, htk=True)

    def compute(samples: np.ndarray) -> np.ndarray:
        spec = np.abs(librosa.stft(samples, n_fft=512, hop_length=hop, win_length=win, window="hann",
                                   center=False)) ** 2
        return np.log(np.maximum(mel @ spec, 1e-10)).T.astype(np.float32)

    return _per_utterance(data, out, compute)


FEATURE_TOOLS = {"ours": ours, "kaldi_native_fbank": kaldi_native_fbank, "librosa": librosa_fbank}


def ceiling_step(data, mcfg, vocab_size: int, batches: list[list[int]], lr: float, seed: int,
                 grad_clip: float | None = 5.0, bare: bool = False):
    """The ceiling's training step: the same model and update done the fastest known way, on a batch's encoder
    inputs made beforehand and held in memory (no loader, no frontend): per layer one bidirectional `nn.LSTM`
    call (fused: each direction one oneDNN call, the backward direction starting in the padding, which our
    loop must not do), the model's dropout after each layer (`asr.model.model.Dropout`, the fastest we know),
    Linear + CTC forward/backward, clipping at `grad_clip` (`clip_gradients`) and a fused Adam step.
    `bare`: without the dropout and the clipping (the ceiling before 2026-12-03, a cheaper model than ours).
    Returns `step(indices) -> input frames`.

    The inputs are those our model's frontend makes (its CMVN from the training set, as `asr train` sets it, then
    frames stacked and subsampled) and the weights start as our model's do (same seed and initialisation): the
    same arithmetic on the same numbers. Fed raw log-mel features, as it once was, the LSTM saturated and its
    backward pass crawled through denormal floats, 3-10x slower than the same work in range (docs/benchmarks.md).
    """
    import torch
    import torch.nn.functional as F

    from asr.model.model import CTCModel, Dropout
    from asr.training.run import training_cmvn_stats
    from asr.training.trainer import clip_gradients

    torch.manual_seed(seed)
    model = CTCModel(mcfg)
    model.set_cmvn(training_cmvn_stats(data))
    enc = model.encoder
    lstms = torch.nn.ModuleList(torch.nn.LSTM(rnn.input_size, mcfg.hidden_size, 1, batch_first=True,
                                              bidirectional=True) for rnn in enc.rnns)
    with torch.no_grad():
        for rnn, lstm in zip(enc.rnns, lstms):  # our layers' initial weights
            lstm.load_state_dict(rnn.state_dict())
        tensors = {}
        for indices in batches:
            b = data.collate(indices)
            x, out_lengths = model.frontend(b.feats, b.lengths)
            tensors[tuple(indices)] = (x.contiguous(), out_lengths, b.targets, b.target_lengths, int(b.lengths.sum()))
    dropout = torch.nn.Identity() if bare or not mcfg.dropout else Dropout(mcfg.dropout).train()
    output = model.output
    net = torch.nn.ModuleList([lstms, output])
    opt = torch.optim.Adam(net.parameters(), lr=lr, fused=True)

    def step(indices: list[int]) -> int:
        x, out_lengths, targets, target_lengths, n = tensors[tuple(indices)]
        for lstm in lstms:
            x = dropout(lstm(x)[0])
        log_probs = F.log_softmax(output(x), dim=-1)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, reduction="sum",
                          zero_infinity=True) / x.shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip and not bare:
            clip_gradients(net, grad_clip)
        opt.step()
        return n

    return step


def train_ceiling(spec: dict) -> list[float]:
    """`ceiling_step` over the batches our training loop makes (same utterances, same padded shapes, same order);
    frames/s per epoch, counting input frames as the training log does."""
    from asr.data.dataset import FeatureDataset
    from asr.data.sampler import BucketBatchSampler
    from asr.model.model import ModelConfig
    from asr.text.tokenizer import load_tokenizer
    from asr.training.screen import screen_dataset
    from bench.prepare import train_config

    conf = train_config()
    tcfg, tok = conf["training"], load_tokenizer(spec["tokens"])
    data = FeatureDataset(spec["train"], tok)
    mcfg = ModelConfig.from_dict({**conf["model"], "input_dim": data.feats[0].shape[1], "vocab_size": len(tok)})
    screen_dataset(data, tok, mcfg.subsample, tcfg["max_frames"], "train", spec["train"])
    sampler = BucketBatchSampler(data.num_frames, tcfg["max_frames"], shuffle=True, seed=tcfg["seed"])
    step = ceiling_step(data, mcfg, len(tok), sampler.batches, tcfg["lr"], tcfg["seed"], tcfg["grad_clip"],
                        bare=spec.get("bare", False))
    rates = []
    for epoch in range(1, spec["epochs"] + 1):
        sampler.set_epoch(epoch)
        frames, t = 0, time.perf_counter()
        for indices in sampler:
            frames += step(indices)
        rates.append(frames / (time.perf_counter() - t))
    return rates


def decode_ceiling(model_dir: str, data_dir: str):
    """The model's forward pass alone over the batches the decode stage makes, features already in memory:
    returns a function that runs it once."""
    import torch

    from asr.data.dataset import FeatureDataset
    from asr.data.sampler import BucketBatchSampler
    from asr.decoding.decode import MAX_FRAMES
    from asr.model.store import load_model_dir

    model = load_model_dir(model_dir).model
    data = FeatureDataset(data_dir)
    batches = [data.collate(i) for i in BucketBatchSampler(data.num_frames, MAX_FRAMES, shuffle=False)]

    def run():
        with torch.inference_mode():
            for b in batches:
                model(b.feats, b.lengths)

    return run
