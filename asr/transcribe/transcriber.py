"""The Transcriber API: a model (dir or `.asr` file) + audio of any length -> words with times.

    from asr import Transcriber
    result = Transcriber.from_pretrained("egs/yesno/exp/model").transcribe("a.wav")
    result.text, [(w.word, w.start_s, w.end_s, w.confidence) for w in result.words]

Audio runs through the same feature, model and decoder code as the recipes. A recording is read in
overlapping windows (asr.transcribe.audio_stream), windows from one or more recordings are batched through the model,
their log-probs are stitched where both CTC paths are blank (asr.transcribe.chunking), decoded piece by piece, and the
token spans grouped into timed words (asr.transcribe.align). Memory is bounded by the window and batch size,
not by the length of a recording.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from asr.audio import load_audio
from asr.decoding.config import DecoderConfig
from asr.errors import AudioError, ConfigError
from asr.features.cmvn import accumulate_stats, speaker_normaliser
from asr.features.extract import SPEAKER_STD_FLOOR
from asr.features.kaldi import compute_features
from asr.model.ensemble import log_probs_and_members
from asr.model.model import SPEAKER_CMN
from asr.model.store import LoadedModel
from asr.transcribe.align import TokenSpan, Word, join_spans, spans_to_words
from asr.transcribe.audio_stream import AudioStream
from asr.transcribe.chunking import ChunkConfig, Stitcher
from asr.transcribe.decoders import make_decoder, members_layout
from asr.transcribe.inputs import AudioInput
from asr.transcribe.snap import frame_energy_db, snap_to_speech

WORD_TIMES = ("speech", "ctc")
LEVEL_WARN_DB = 10.0  # input this far from the training data's level (global CMVN): warn
log = logging.getLogger("asr.transcribe")
STREAM_READ_S = 1.0  # a streaming model reads a file in windows of this length


@dataclass
class Transcript:
    """The words of one recording. `elapsed_s` is the processing time spent on it (for the real-time factor)."""

    audio: str
    words: list[Word]
    duration_s: float
    elapsed_s: float = 0.0
    level_db: float | None = None  # input level minus the training data's (global-CMVN models), dB

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.duration_s if self.duration_s else 0.0

    def to_dict(self) -> dict:
        return {"audio": self.audio, "duration": round(self.duration_s, 3), "text": self.text,
                "words": [w.to_dict() for w in self.words]}

    def __str__(self) -> str:
        return self.text


@dataclass
class Failure:
    """A recording that could not be transcribed; `error` is a one-line message naming it."""

    audio: str
    error: str


@dataclass
class _Recording:
    key: str
    stitcher: Stitcher
    spans: list[TokenSpan] = field(default_factory=list)
    samples: int = 0  # read so far, at the model's rate
    energy_db: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # per output frame
    elapsed_s: float = 0.0
    failed: bool = False
    feat_sum: float = 0.0  # of the features' mean over dims, over frames (windows' overlaps counted twice)
    feat_frames: int = 0
    raw_feats: torch.Tensor | None = None  # a speaker graph's: the features of a recording read in one window
    log_probs: torch.Tensor | None = None  # and its log-probs
    result: "Transcript | None" = None  # a speaker graph's: the transcript _finish made


@dataclass
class _Chunk:
    rec: _Recording
    start: int  # first output frame
    feats: torch.Tensor  # (T, D)
    last: bool
    advance_s: float  # new audio in this window, for progress


class Transcriber:
    def __init__(self, loaded: LoadedModel, device: str | torch.device = "cpu",
                 decoder: str | DecoderConfig | None = None, chunk: ChunkConfig | None = None, batch_size: int = 4,
                 word_times: str = "speech"):
        """`decoder`: greedy, beam or lm, or a DecoderConfig (asr.decoding.config); what it leaves open, and the
        decoder when None, is the model's (its decoding.yaml: the decoder its recipe chose), else the defaults.
        `word_times`: "speech" snaps CTC word times to the speech in the audio (asr.transcribe.snap), "ctc"
        keeps the frames where the tokens were emitted."""
        self.loaded = loaded
        self.device = torch.device(device)
        self.decoder_config = decoder if isinstance(decoder, DecoderConfig) else DecoderConfig(decoder)
        self.decode = make_decoder(loaded, self.decoder_config)
        self.chunk = chunk or ChunkConfig()
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        if word_times not in WORD_TIMES:
            raise ConfigError(f"word times must be one of {', '.join(WORD_TIMES)}, not '{word_times}'")
        self.word_times = word_times
        cfg, sub = loaded.features, loaded.model.config.subsample
        self.shift_samples = int(cfg.sample_rate * cfg.frame_shift_ms / 1000)
        self.samples_per_frame = self.shift_samples * sub  # input samples per output frame
        self.frame_s = self.samples_per_frame / cfg.sample_rate
        size, hop = self.chunk.frames(self.frame_s)
        self.window_samples = size * self.samples_per_frame
        self.hop_samples = hop * self.samples_per_frame
        self.train_level = training_level(loaded.model)
        self.speaker_stats: tuple[torch.Tensor, torch.Tensor] | None = None  # speaker CMN: set_speaker's (mean, std)
        self.resolved_decoder = self.decoder_config.resolved(loaded)  # speaker_graph > 0: _decide_together
        self._finished: list[_Recording] | None = None

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike, device: str | None = None, **options) -> "Transcriber":
        """Load a model dir, exp dir or `.asr` model file; options as for the constructor."""
        from asr.device import check_device
        from asr.export.package import load_model

        device = check_device(device, "device") or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(load_model(model, device), device, **options)

    @property
    def streaming(self) -> bool:
        """Whether the model is a streaming one (asr.model.model.ModelConfig.streaming)."""
        return bool(getattr(self.loaded.model.config, "streaming", False))

    def stream(self, endpoint_s: float | None = None, max_segment_s: float | None = None):
        """A live session (asr.transcribe.stream.StreamSession): `accept(samples, sample_rate)` -> partial result,
        `finish()` -> final words. Needs a streaming model; `endpoint_s`: trailing blank that ends a segment."""
        from asr.transcribe.stream import StreamConfig, StreamSession

        config = StreamConfig()
        if endpoint_s is not None:
            config.endpoint_s = endpoint_s
        if max_segment_s is not None:
            config.max_segment_s = max_segment_s
        return StreamSession(self, config)

    @property
    def decides_together(self) -> bool:
        """Whether the decoder decides a speaker's isolated words together (speaker_graph): see set_speaker."""
        return bool(self.resolved_decoder.speaker_graph)

    @property
    def speaker_cmn(self) -> bool:
        """Whether the model normalises by its speaker's stats (cmn: speaker or speaker_mv): see set_speaker."""
        return getattr(self.loaded.model.config, "cmn", None) in SPEAKER_CMN

    def set_speaker(self, recordings: Iterable[str | os.PathLike]) -> int:
        """For a speaker-CMN model: the features of these recordings (one speaker's, or one session's), pooled,
        give the mean (and, for speaker_mv, the variance) that normalise every recording transcribed after, as
        Kaldi's per-speaker CMVN; until then each recording is normalised by its own. With a speaker_graph
        decoder, the recordings of each transcribe_many call after it are one speaker's: their words are decided
        together (asr.decoding.speaker_graph). Recordings that cannot be read are left out (reading them again
        reports why), and so is stdin. Returns the number of feature frames pooled (0: unset)."""
        stats = None
        for spec in recordings:
            if os.fspath(spec) == "-":
                continue
            try:
                stats = accumulate_stats(self.features(os.fspath(spec)), stats)
            except AudioError:
                continue
        self.speaker_stats = None if stats is None else self._normaliser(stats)
        return 0 if stats is None else int(stats[0, -1])

    def _normaliser(self, stats: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = speaker_normaliser(stats, self.loaded.model.config.cmn == "speaker_mv", SPEAKER_STD_FLOOR)
        return torch.from_numpy(mean), torch.from_numpy(std)

    def speaker_normalised(self, feats: torch.Tensor) -> torch.Tensor:
        """Features (T, D) as a speaker-CMN model takes them: normalised by set_speaker's stats, or by their own
        when none are set; other models' features unchanged."""
        if not self.speaker_cmn:
            return feats
        mean, std = self.speaker_stats or self._normaliser(accumulate_stats(feats))
        return (feats - mean) / std

    def features(self, audio: str) -> torch.Tensor:
        """Raw features (T, D) of a whole audio file (any rate, any channels), as the model was trained on; an
        AudioError when it is too short for one feature frame."""
        cfg = self.loaded.features
        samples = load_audio(audio, cfg.sample_rate)
        feats = compute_features(samples, cfg)
        if feats.shape[0] == 0:
            raise AudioError(f"{audio}: too short: {len(samples) / cfg.sample_rate:.3f} s of audio, less than one "
                             f"feature frame ({cfg.frame_length_ms:g} ms)", "too short")
        return feats

    def transcribe(self, audio, sample_rate: int | None = None) -> Transcript:
        """One recording: a path (str or PathLike), `-` (stdin), a Kaldi pipe, an audio file's bytes, or samples
        at `sample_rate` (default: the model's): a numpy array or torch tensor of int16/int32/float samples, mono
        or (samples, channels) or (channels, samples), or a list of numbers (asr.audio.as_samples). Raises
        AudioError if it cannot be read or cannot be audio."""
        if isinstance(audio, (str, os.PathLike)):
            results = list(self.transcribe_many([os.fspath(audio)]))
        else:
            name = "<bytes>" if isinstance(audio, (bytes, bytearray)) else "<array>"
            stream = AudioStream(audio, self.loaded.features.sample_rate, name, source_rate=sample_rate)
            results = list(self.transcribe_streams([(AudioInput(name, name), stream)]))
        if isinstance(results[0], Failure):
            raise AudioError(results[0].error)
        return results[0]

    def transcribe_many(self, inputs: Iterable[AudioInput | str | os.PathLike],
                        progress: Callable[[float], None] | None = None) -> Iterator[Transcript | Failure]:
        """Transcripts (or failures) in input order; `progress(seconds)` is called as audio is done."""
        items = (x if isinstance(x, AudioInput) else AudioInput(str(x), str(x)) for x in inputs)
        return self.transcribe_streams(((item, None) for item in items), progress)

    def transcribe_streams(self, sources: Iterable[tuple[AudioInput, AudioStream | None]],
                           progress: Callable[[float], None] | None = None) -> Iterator[Transcript | Failure]:
        """Transcripts (or failures) in order of (input, stream) pairs: each recording read from its AudioStream
        (None: from the input's `spec`), the windows of several batched through the model; a streaming model's
        recordings each through a stream session instead (so a file gives the words that streaming it gives).
        `progress(seconds)` as for transcribe_many. The server runs its batches of requests through this."""
        if self.streaming:
            return self._run_streaming(sources, progress)
        return self._run(sources, progress)

    def _run_streaming(self, sources, progress=None) -> Iterator[Transcript | Failure]:
        """A streaming model's recordings, each through a stream session (so a file gives the words that
        streaming it gives), read in windows of STREAM_READ_S."""
        cfg = self.loaded.features
        size = int(STREAM_READ_S * cfg.sample_rate)
        for item, stream in sources:
            if item.error:
                yield Failure(item.key, item.error)
                continue
            t0 = time.perf_counter()
            try:
                session = self.stream()
                stream = stream or AudioStream(item.spec, cfg.sample_rate)
                for _, samples, _ in stream.windows(size, size):
                    session.accept(samples)
                    if progress is not None:
                        progress(len(samples) / cfg.sample_rate)
                session.finish()
            except AudioError as e:
                yield Failure(item.key, str(e))
                continue
            yield Transcript(item.key, session.words, session.duration_s, time.perf_counter() - t0)

    # ---- the pipeline ----------------------------------------------------------------------------------

    def _chunks(self, sources) -> Iterator[_Chunk | Failure | Transcript]:
        """Windows of features for each recording in turn, with failures and empty recordings in their place."""
        cfg = self.loaded.features
        for item, stream in sources:
            if item.error:
                yield Failure(item.key, item.error)
                continue
            rec = _Recording(item.key, Stitcher())
            t0 = time.perf_counter()
            try:
                stream = stream or AudioStream(item.spec, cfg.sample_rate)
                for start, samples, last in stream.windows(self.window_samples, self.hop_samples):
                    feats = compute_features(samples, cfg)
                    first = start // self.samples_per_frame
                    rec.energy_db = np.concatenate([rec.energy_db[:first],
                                                    frame_energy_db(samples, self.samples_per_frame)])
                    end = start + len(samples)
                    advance, rec.samples = (end - rec.samples) / cfg.sample_rate, end
                    rec.elapsed_s += time.perf_counter() - t0
                    if feats.shape[0]:
                        rec.feat_sum += float(feats.mean(dim=1).sum())
                        rec.feat_frames += feats.shape[0]
                        if self._finished is not None and start == 0 and last:
                            rec.raw_feats = feats
                        feats = self.speaker_normalised(feats)
                        yield _Chunk(rec, first, feats, last, advance)
                    elif last:  # shorter than one analysis frame: no words
                        yield self._finish(rec)
                    t0 = time.perf_counter()
            except AudioError as e:
                rec.failed = True
                yield Failure(item.key, f"{item.where}: {e}" if item.where else str(e))

    def _run(self, sources, progress=None) -> Iterator[Transcript | Failure]:
        """Each recording decoded as its windows come through the model; with a speaker graph and a speaker set
        (set_speaker), every recording first, then each one's word decided with the others (_decide_together)."""
        if not (self.decides_together and self.speaker_stats is not None):
            yield from self._run_each(sources, progress)
            return
        finished = self._finished = []
        try:
            results = list(self._run_each(sources, progress))
        finally:
            self._finished = None
        yield from self._decide_together(results, finished)

    def _decide_together(self, results: list, finished: list[_Recording]) -> list[Transcript | Failure]:
        """The results with the word of each recording read in one window decided together with the others'
        (asr.decoding.speaker_graph: they are one speaker's isolated words), its time aligned again."""
        from asr.decoding.speaker_graph import IsolatedWords, bins_below
        from asr.transcribe.decoders import split_members, words_to_spans

        recs = [r for r in finished if r.log_probs is not None]
        if len(recs) < 2:
            return results
        config = self.resolved_decoder
        words = IsolatedWords.from_config(self.loaded.tokenizer, config)
        split = [split_members(r.log_probs, members_layout(self.loaded)) for r in recs]  # (mean, members)
        chosen = words.decide([words.log_probs(members) for _, members in split], [r.raw_feats for r in recs],
                              config, bins_below(self.loaded.features, config.graph_band_hz))
        redone = {}
        for rec, (mean, _), word in zip(recs, split, chosen):
            if [s.word for s in rec.spans if s.word] != [word]:
                rec.spans = words_to_spans(words, mean, [word])
                redone[id(rec.result)] = self._finish(rec)
        return [redone.get(id(r), r) for r in results]

    def _run_each(self, sources, progress=None) -> Iterator[Transcript | Failure]:
        batch: list = []
        pending_chunks = 0
        for event in self._chunks(sources):
            batch.append(event)
            if isinstance(event, _Chunk):
                pending_chunks += 1
                if pending_chunks == self.batch_size:
                    yield from self._process(batch, progress)
                    batch, pending_chunks = [], 0
        yield from self._process(batch, progress)

    @torch.inference_mode()
    def _process(self, events: list, progress) -> Iterator[Transcript | Failure]:
        """Run the batch's windows through the model, then hand out results in order."""
        chunks = [e for e in events if isinstance(e, _Chunk)]
        outputs: dict[int, torch.Tensor] = {}
        if chunks:
            t0 = time.perf_counter()
            lengths = torch.tensor([c.feats.shape[0] for c in chunks])
            feats = torch.nn.utils.rnn.pad_sequence([c.feats for c in chunks], batch_first=True)
            log_probs, out_lengths, members = log_probs_and_members(self.loaded.model, feats.to(self.device), lengths)
            if members_layout(self.loaded):  # (N, T', 1 + M, V): the mean, then the members (decoders.py)
                log_probs = torch.cat([log_probs[None], members]).permute(1, 2, 0, 3)
            log_probs = log_probs.float().cpu()
            share = (time.perf_counter() - t0) / int(lengths.sum())
            for i, c in enumerate(chunks):
                outputs[id(c)] = log_probs[i, :int(out_lengths[i])]
                c.rec.elapsed_s += share * int(lengths[i])
        for event in events:
            if not isinstance(event, _Chunk):
                yield event
                continue
            rec = event.rec
            if rec.failed:
                continue
            t0 = time.perf_counter()
            if self._finished is not None and rec.raw_feats is not None:
                rec.log_probs = outputs[id(event)]
            pieces = rec.stitcher.add(outputs[id(event)], event.start)
            if event.last:
                pieces += rec.stitcher.finish()
            for first, lp in pieces:
                join_spans(rec.spans, [s.shifted(first) for s in self.decode(lp)])
            rec.elapsed_s += time.perf_counter() - t0
            if progress is not None:
                progress(event.advance_s)
            if event.last:
                yield self._finish(rec)

    def _finish(self, rec: _Recording) -> Transcript:
        duration = rec.samples / self.loaded.features.sample_rate
        words = spans_to_words(rec.spans, self.loaded.tokenizer, self.frame_s, duration)
        if self.word_times == "speech":
            words = snap_to_speech(words, rec.energy_db, self.frame_s)
        level_db = None
        if self.train_level is not None and rec.feat_frames:
            level_db = (rec.feat_sum / rec.feat_frames - self.train_level) * 10 / math.log(10)  # log-mel: ln power
            if abs(level_db) > LEVEL_WARN_DB:
                log.warning("%s: input level %.1f dB %s the training data's (mean log-mel energy; this model "
                            "normalises with the training set's CMVN): the transcript may be empty or wrong; scale "
                            "the audio nearer the training level", rec.key, abs(level_db),
                            "below" if level_db < 0 else "above")
        result = Transcript(rec.key, words, duration, rec.elapsed_s, level_db)
        if self._finished is not None:
            rec.result = result
            self._finished.append(rec)
        return result


def training_level(model) -> float | None:
    """The training data's mean log-mel energy (from the model's global CMVN), or None when the model
    normalises each utterance on its own or carries no training stats."""
    cmvn, config = getattr(model, "cmvn", None), getattr(model, "config", None)
    if cmvn is None or getattr(config, "cmn", "global") != "global" or not bool((cmvn.shift != 0).any()):
        return None
    return -float(cmvn.shift.mean())
