"""The decode stage: a model dir and a data dir with features -> Kaldi `text` of hypotheses.

Decoders: `greedy` (best path), `beam` (CTC prefix beam search, asr.decoding.beam) and `lm` (lexicon-constrained
beam search with a word n-gram LM, asr.decoding.lm; with `nbest` > 1 its N best rescored, asr.decoding.rescore;
with `speaker_graph` isolated words, each speaker's decided together, asr.decoding.speaker_graph), with their
settings in a DecoderConfig (asr.decoding.config). An ensemble combined by sequence gives the rescoring
its members' log-probs, every other decoder their posterior mean (asr.model.ensemble).
The network runs once per data dir (for all of its decoders), batch by batch: features are read for one batch at a time and each batch is
decoded as soon as the network has run, so memory does not grow with the data dir (only a tuning grid keeps every
utterance's log-probs). For `lm` the weights come from the config, from a tuning grid searched on this data dir's
own `text` (meant for dev, as Kaldi's scoring picks LMWT and the word insertion penalty), or from the
`lm_params.yaml` such a search wrote. The decode dir gets `text`, `decode.yaml` (the decoder and its settings)
and, after a search, `lm_tuning.tsv` and `lm_params.yaml`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Iterator

import kaldiio
import numpy as np
import torch
import yaml
from tqdm import tqdm

from asr.data.dataset import FeatureDataset
from asr.data.kaldi_files import read_table, write_table
from asr.data.sampler import BucketBatchSampler
from asr.decoding.config import LM_PARAMS, DecoderConfig
from asr.decoding.greedy import greedy_decode
from asr.decoding.speaker_graph import IsolatedWords, bins_below
from asr.errors import ConfigError, DataError
from asr.features.extract import load_feats_config, speaker_cmvn
from asr.fileio import atomic_write_text
from asr.model.ensemble import combines_by_sequence, log_probs_and_members
from asr.model.model import SPEAKER_CMN
from asr.model.store import LoadedModel, load_model_dir

MAX_FRAMES = 5000  # padded input frames per forward batch: as fast as larger batches here, 4x less memory
ONEDNN_CACHE = "16"  # oneDNN primitives kept (default 1024); see stream_log_probs


@torch.inference_mode()
def compute_log_probs(loaded: LoadedModel, dataset: FeatureDataset, max_frames: int = MAX_FRAMES,
                      device: str = "cpu", progress: bool = False) -> dict[str, torch.Tensor]:
    """utt -> (T', V) CTC log-probs (on the CPU) of every utterance of `dataset`."""
    out = {}
    for indices in tqdm(BucketBatchSampler(dataset.num_frames, max_frames, shuffle=False), desc="forward",
                        unit="batch", disable=not progress):
        batch = dataset.collate(indices).to(device)
        log_probs, lengths = loaded.model(batch.feats, batch.lengths)
        for utt, lp, n in zip(batch.utt_ids, log_probs.cpu(), lengths.tolist()):
            out[utt] = lp[:n].clone()
    return out


def stream_log_probs(loaded: LoadedModel, data_dir: str | os.PathLike, max_frames: int = MAX_FRAMES,
                     device: str = "cpu", progress: bool = False
                     ) -> Iterator[tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(utt ids, log-probs (N, T', V), lengths (N,), rescoring log-probs (M, N, T', V): see
    asr.model.ensemble.log_probs_and_members) of a data dir's utterances, batch by batch (length-bucketed, as
    training's evaluation); each batch's features are read from feats.scp only when it is due.

    Memory stays flat however large the data dir: besides one batch, only oneDNN's primitive cache could grow, as
    every batch shape gets its own LSTM primitives (with their scratch memory), kept up to 1024 of them. One pass
    over a data dir rarely meets a shape twice, so unless ONEDNN_PRIMITIVE_CACHE_CAPACITY is set, the cache is
    made small here (oneDNN reads the variable when it first creates a primitive in the process)."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE)
    data_dir = Path(data_dir)
    scp = data_dir / "feats.scp"
    if not scp.is_file():
        raise DataError(f"{data_dir}: no feats.scp; run `asr feats` first")
    reader = kaldiio.load_scp(str(scp))
    utts = sorted(read_table(scp))
    if (data_dir / "utt2num_frames").is_file():
        frames = read_table(data_dir / "utt2num_frames")
        lengths = [int(frames[u]) if u in frames else reader[u].shape[0] for u in utts]
    else:
        lengths = [reader[u].shape[0] for u in utts]
    cmn = loaded.model.config.cmn
    cmvn = speaker_cmvn(data_dir, cmn == "speaker_mv") if cmn in SPEAKER_CMN else None
    with torch.inference_mode():
        for indices in tqdm(BucketBatchSampler(lengths, max_frames, shuffle=False), desc="forward", unit="batch",
                            disable=not progress):
            feats = [torch.from_numpy(np.array(reader[utts[i]], dtype=np.float32)) for i in indices]
            if cmvn is not None:
                feats = [(f - torch.from_numpy(cmvn[utts[i]][0])) / torch.from_numpy(cmvn[utts[i]][1])
                         for f, i in zip(feats, indices)]
            lens = torch.tensor([f.shape[0] for f in feats])
            padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True).to(device)
            log_probs, out_lengths, members = log_probs_and_members(loaded.model, padded, lens.to(device))
            yield [utts[i] for i in indices], log_probs.cpu(), out_lengths.cpu(), members.cpu()


def batch_decoder(loaded: LoadedModel, config: DecoderConfig, cache: dict | None = None) -> Callable[..., list[str]]:
    """The decoder of `config` as a function of a batch: log-probs (N, T', V), lengths (N,) and optionally the
    rescoring log-probs (M, N, T', V) (asr.model.ensemble.log_probs_and_members; default: the log-probs) -> N
    texts. `cache`: the rescoring's CTC likelihoods, kept across calls (a tuning grid)."""
    tok = loaded.tokenizer
    config = config.resolved(loaded).check(loaded)
    if config.decoder == "greedy":
        return lambda lp, lengths, members=None: [tok.decode(ids) for ids in greedy_decode(lp, lengths)]
    if config.decoder == "beam":
        from asr.decoding.beam import beam_decode

        return lambda lp, lengths, members=None: [tok.decode(ids) for ids in beam_decode(lp, lengths,
                                                                                          config.beam_size)]
    if config.speaker_graph:  # isolated words; alone here (decode_with_each decides each speaker's together)
        words = IsolatedWords.from_config(tok, config)
        return lambda lp, lengths, members=None: [words.best((lp[None] if members is None else members)[:, i, :n])
                                                   for i, n in enumerate(lengths.tolist())]
    if config.nbest > 1 or combines_by_sequence(loaded.model):
        from asr.decoding.rescore import NBestRescorer

        rescorer = NBestRescorer.from_config(tok, config, cache)

        def rescore(lp, lengths, members=None):
            members = lp[None] if members is None else members
            return [" ".join(rescorer.decode_one(members[:, i, :n])) for i, n in enumerate(lengths.tolist())]
        return rescore
    from asr.decoding.lm import LexiconLMDecoder

    decoder = LexiconLMDecoder.from_config(tok, config)
    return lambda lp, lengths, members=None: [" ".join(words) for words in decoder.decode(lp, lengths)]


def speaker_graph_hypotheses(loaded: LoadedModel, config: DecoderConfig, data_dir: str | os.PathLike,
                             word_log_probs: dict[str, np.ndarray], words: IsolatedWords | None = None
                             ) -> dict[str, str]:
    """utt -> word, each speaker's utterances (utt2spk; without it, each utterance alone) decided together from
    their word log-probs (asr.decoding.speaker_graph.IsolatedWords.log_probs) and their features in feats.scp;
    `words`: the IsolatedWords that scored them (default: the config's, built again)."""
    data_dir = Path(data_dir)
    utt2spk = read_table(data_dir / "utt2spk") if (data_dir / "utt2spk").is_file() else {}
    groups: dict[str, list[str]] = {}
    for utt in sorted(word_log_probs):
        groups.setdefault(utt2spk.get(utt, utt), []).append(utt)
    words = words or IsolatedWords.from_config(loaded.tokenizer, config)
    bins = bins_below(loaded.features, config.graph_band_hz)
    reader = kaldiio.load_scp(str(data_dir / "feats.scp"))
    out = {}
    for utts in groups.values():
        out.update(zip(utts, words.decide([word_log_probs[u] for u in utts], [reader[u] for u in utts], config,
                                          bins)))
    return out


def hypotheses(loaded: LoadedModel, log_probs: dict[str, torch.Tensor], config: DecoderConfig,
               members: dict[str, torch.Tensor] | None = None, cache: dict | None = None) -> dict[str, str]:
    """utt -> text with the decoder of `config`; `members`: utt -> rescoring log-probs (M, T', V)
    (asr.model.ensemble.log_probs_and_members), where they are not the log-probs themselves; `cache` as
    batch_decoder's."""
    decode = batch_decoder(loaded, config, cache)
    members = members or {}
    return {u: decode(lp[None], torch.tensor([len(lp)]), members[u][:, None] if u in members else None)[0]
            for u, lp in log_probs.items()}


def decode_data_dir(model_dir: str | os.PathLike, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    device: str = "cpu", progress: bool = True, config: DecoderConfig | None = None) -> Path:
    """Write `out_dir/text` with the hypotheses for `data_dir` (and the settings used, see the module doc)."""
    return decode_with_each(model_dir, data_dir, [(out_dir, config or DecoderConfig())], device, progress)[0]


def decode_with_each(model_dir: str | os.PathLike, data_dir: str | os.PathLike,
                     outputs: list[tuple[str | os.PathLike, DecoderConfig]], device: str = "cpu",
                     progress: bool = True) -> list[Path]:
    """`decode_data_dir` for each (out dir, config) of `outputs`, the network run once: each batch's log-probs go
    to every decoder (all of them kept only when a config searches LM weights). The `text` of each, in order."""
    configs = [config.check() for _, config in outputs]
    loaded = load_model_dir(model_dir, device)
    feats_cfg = load_feats_config(data_dir)
    if feats_cfg != loaded.features:
        raise ConfigError(f"{data_dir}: features differ from the model's ({Path(model_dir) / 'config.yaml'}): "
                          f"{feats_cfg} vs {loaded.features}")
    configs = [config.resolved(loaded).check(loaded) for config in configs]
    outs = [Path(out_dir) for out_dir, _ in outputs]
    for out in outs:
        out.mkdir(parents=True, exist_ok=True)
    keep = any(config.tuned for config in configs)
    refs = _references(data_dir) if keep else None
    isolated = [IsolatedWords.from_config(loaded.tokenizer, config) if config.speaker_graph else None
                for config in configs]  # a speaker graph's words, decided at the end
    decoders = [None if config.tuned or words else batch_decoder(loaded, config)
                for config, words in zip(configs, isolated)]
    hyps: list[dict[str, str]] = [{} for _ in configs]
    word_log_probs: list[dict[str, np.ndarray]] = [{} for _ in configs]  # a speaker graph's, per utterance
    kept: dict[str, torch.Tensor] = {}  # every utterance's log-probs, for a search
    kept_members: dict[str, torch.Tensor] = {}  # and an ensemble's members', when it is combined by sequence
    by_sequence = combines_by_sequence(loaded.model)
    for utts, log_probs, lengths, members in stream_log_probs(loaded, data_dir, device=device, progress=progress):
        for decode, h in zip(decoders, hyps):
            if decode is not None:
                h.update(zip(utts, decode(log_probs, lengths, members)))
        for words, w in zip(isolated, word_log_probs):
            if words is not None:  # from the members' log-probs, as the rescoring: an ensemble combined by sequence
                w.update((u, words.log_probs(members[:, i, :n])) for i, (u, n) in enumerate(zip(utts,
                                                                                                lengths.tolist())))
        if keep:
            kept.update((u, lp[:n].clone()) for u, lp, n in zip(utts, log_probs, lengths.tolist()))
            if by_sequence:
                kept_members.update((u, members[:, i, :n].clone())
                                    for i, (u, n) in enumerate(zip(utts, lengths.tolist())))
    for i, (out, config) in enumerate(zip(outs, configs)):
        if config.tuned:  # needs every utterance at once
            from asr.decoding.tune import tune_lm

            best, table = tune_lm(loaded, kept, refs, config, kept_members)
            configs[i] = config = dataclasses.replace(config, lm_weight=best["lm_weight"],
                                                      word_score=best["word_score"])
            atomic_write_text(out / "lm_tuning.tsv", table)
            atomic_write_text(out / LM_PARAMS, yaml.safe_dump({**best, "tuned_on": str(Path(data_dir))},
                                                               sort_keys=False))
            hyps[i] = hypotheses(loaded, kept, config, kept_members)
        elif config.speaker_graph:  # each speaker's utterances at once
            hyps[i] = speaker_graph_hypotheses(loaded, config, data_dir, word_log_probs[i], isolated[i])
        write_table(out / "text", hyps[i])
        write_settings(out, model_dir, data_dir, config)
    return [out / "text" for out in outs]


def write_settings(out_dir: Path, model_dir: str | os.PathLike, data_dir: str | os.PathLike, config: DecoderConfig,
                   **more) -> None:
    """`out_dir/decode.yaml`: the model, the data and the decoder's settings (`asr results` reads it)."""
    settings = {"model": str(Path(model_dir)), "data": str(Path(data_dir)), **more, **dataclasses.asdict(config)}
    atomic_write_text(out_dir / "decode.yaml", yaml.safe_dump(settings, sort_keys=False))


def _references(data_dir: str | os.PathLike) -> dict[str, str]:
    path = Path(data_dir) / "text"
    if not path.exists():
        raise DataError(f"{path}: tuning the LM weights needs the references")
    return read_table(path)
