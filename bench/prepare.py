"""Everything the benchmarks read, made in a work dir (bench/work by default) from the AN4 corpus alone, or from
generated audio in smoke mode: data dirs, features of the training set, phone units, a word 3-gram LM, the
evaluation set replicated 1x/4x/16x, and the model (the trained AN4 model when there is one, else a freshly
initialised one of the default configuration). Preparation is not timed; it is done once and kept (stamp)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
TRAIN_CONF = REPO / "egs" / "an4" / "conf" / "train.yaml"
FBANK_CONF = REPO / "egs" / "an4" / "conf" / "fbank.yaml"
TRAINED_MODEL = REPO / "egs" / "an4" / "exp" / "model"
SCALES = (1, 4, 16)
STAMP_VERSION = 1


@dataclass
class Workspace:
    """Paths of a prepared work dir (all absolute)."""

    root: str
    train: str  # features made: the training benchmark's data and the feature comparison's audio
    train_dev: str  # a few dev utterances with features: the trainer's per-epoch evaluation
    scaled: dict  # scale -> data dir of the evaluation set replicated that many times (no features yet)
    tokens: str
    lexicon: str
    lm: str
    model: str
    model_kind: str  # "trained" | "fresh"
    smoke: bool

    def save(self) -> None:
        (Path(self.root) / "prepared.json").write_text(json.dumps({"version": STAMP_VERSION, **asdict(self)}))

    @classmethod
    def load(cls, root: Path, smoke: bool) -> "Workspace | None":
        stamp = root / "prepared.json"
        if not stamp.is_file():
            return None
        d = json.loads(stamp.read_text())
        if d.pop("version", None) != STAMP_VERSION or d.get("smoke") != smoke:
            return None
        ws = cls(**d)
        ws.scaled = {int(k): v for k, v in ws.scaled.items()}
        if ws.model_kind == "fresh" and not smoke and _trained_model() is not None:
            return None  # a trained model appeared since: prepare again to use it
        return ws


def feature_config():
    from asr.features.kaldi import FeatureConfig

    return FeatureConfig.from_dict(yaml.safe_load(FBANK_CONF.read_text()))


def train_config() -> dict:
    return yaml.safe_load(TRAIN_CONF.read_text())


def prepare(root: Path, corpus: Path | None, smoke: bool, log=print) -> Workspace:
    """Prepare `root` (or reuse an earlier preparation of the same kind)."""
    root = root.resolve()
    ws = Workspace.load(root, smoke)
    if ws is not None:
        log(f"reusing the prepared work dir {root}")
        return ws
    if root.exists():
        shutil.rmtree(root)
    data = root / "data"
    data.mkdir(parents=True)
    if smoke:
        sets = synthesize(root / "audio", data)
    else:
        from data_prep.an4 import prepare as prepare_an4

        if corpus is None or not (corpus / "etc" / "an4_train.transcription").is_file():
            raise SystemExit(f"bench: AN4 corpus not found at {corpus} (set ASR_CORPORA or pass --corpus)")
        log(f"preparing AN4 from {corpus} in {root}")
        out = prepare_an4(corpus, data)
        sets = {"train": out["train"], "dev": out["dev"], "lm_train": out["lm_train"], "lexicon": out["lexicon"]}
    from asr.data.subset import subset_data_dir
    from asr.decoding.lm import read_words
    from asr.decoding.ngram import build_arpa
    from asr.features.extract import compute_cmvn_stats, make_feats
    from asr.text.phone import PhoneTokenizer, read_lexicon

    cfg = feature_config()
    train_dev = data / "train_dev"
    subset_data_dir(sets["dev"], train_dev, 4 if smoke else 10, how="first")
    for d in (Path(sets["train"]), train_dev):
        make_feats(d, cfg, progress=False)
        compute_cmvn_stats(d)
    lang = root / "lang"
    lang.mkdir()
    tok = PhoneTokenizer.build(read_lexicon(sets["lexicon"]))
    tok.save_dir(lang)
    lm = root / "lm" / "3gram.arpa"
    lm.parent.mkdir()
    build_arpa(sets["lm_train"], lm, 3, read_words(sets["lexicon"]))
    scaled = {k: str(replicate(Path(sets["dev"]), data / f"eval_x{k}", k)) for k in SCALES}
    trained = None if smoke else _trained_model()
    if trained is not None:
        model, kind = trained, "trained"
    else:
        model, kind = fresh_model(root / "model", lang / "tokens.txt", Path(sets["train"])), "fresh"
    log(f"model: {kind} ({model})")
    ws = Workspace(str(root), str(Path(sets["train"]).resolve()), str(train_dev.resolve()), scaled,
                   str(lang / "tokens.txt"), str(Path(sets["lexicon"]).resolve()), str(lm), str(model), kind, smoke)
    ws.save()
    return ws


def _trained_model() -> Path | None:
    """The AN4 recipe's final model, when it exists and uses the features the bench makes."""
    config = TRAINED_MODEL / "config.yaml"
    if not (TRAINED_MODEL / "model.pt").is_file() or not config.is_file():
        return None
    from asr.features.kaldi import FeatureConfig

    if FeatureConfig.from_dict(yaml.safe_load(config.read_text())["features"]) != feature_config():
        return None
    return TRAINED_MODEL  # the link: whichever model the recipe made last


def fresh_model(out: Path, tokens: Path, train_dir: Path) -> Path:
    """A model dir with the default AN4 configuration, randomly initialised (CMVN from the training set)."""
    import torch

    from asr.features.extract import global_cmvn_stats
    from asr.model.model import CTCModel, ModelConfig
    from asr.model.store import save_weights, write_config
    from asr.text.tokenizer import load_tokenizer

    tok = load_tokenizer(tokens)
    conf = train_config()
    cfg = feature_config()
    mcfg = ModelConfig.from_dict({**conf["model"], "input_dim": cfg.dim, "vocab_size": len(tok)})
    torch.manual_seed(0)
    model = CTCModel(mcfg)
    model.set_cmvn(global_cmvn_stats(train_dir))
    out.mkdir(parents=True)
    tok.save_dir(out)
    save_weights(model, out)
    write_config(out, {"features": cfg.to_dict(), "model": mcfg.to_dict(), "training": conf.get("training", {})})
    return out


def replicate(src: Path, dst: Path, times: int) -> Path:
    """A data dir holding every utterance of `src` `times` times (copies r01-, r02-, ... of each speaker and
    utterance id, the same audio): the "k x the data" of the scaling table."""
    from asr.data.datadir import DataDir

    d = DataDir.load(src)
    out = DataDir(text={}, utt2dur={})
    for r in range(times):
        for utt, spk in d.utt2spk.items():
            new = f"r{r:02d}-{utt}"
            out.wav_scp[new], out.utt2spk[new] = d.wav_scp[utt], f"r{r:02d}-{spk}"
            out.text[new], out.utt2dur[new] = d.text[utt], d.utt2dur[utt]
    out.save(dst)
    return dst.resolve()


def audio_seconds(data_dir: str | Path) -> float:
    from asr.data.kaldi_files import read_table

    return sum(float(v) for v in read_table(Path(data_dir) / "utt2dur").values())


# ---- smoke mode: a tiny corpus of generated audio -----------------------------------------------------------

SMOKE_LEXICON = {"YES": "Y EH S", "NO": "N OW", "GO": "G OW", "STOP": "S T AA P"}
SMOKE_TONES = {"YES": 440.0, "NO": 660.0, "GO": 880.0, "STOP": 1100.0}


def synthesize(audio: Path, data: Path) -> dict:
    """Generated 16 kHz utterances (one tone per word, in noise), train 8 / dev 4, with lexicon and LM text."""
    import soundfile as sf

    from asr.data.datadir import DataDir
    from asr.fileio import atomic_write_text

    rng = np.random.default_rng(0)
    words = sorted(SMOKE_LEXICON)
    audio.mkdir(parents=True)
    out = {}
    for name, n in (("train", 8), ("dev", 4)):
        d = DataDir(text={}, utt2dur={})
        for i in range(n):
            spk = f"{name}{i % 2}"
            utt = f"{spk}-u{i:02d}"
            text = [words[j] for j in rng.integers(0, len(words), 2 + i % 3)]
            pieces = [0.05 * rng.standard_normal(1600)]
            for w in text:
                t = np.arange(4000) / 16000
                pieces += [0.3 * np.sin(2 * np.pi * SMOKE_TONES[w] * t), 0.05 * rng.standard_normal(1600)]
            x = np.concatenate(pieces) + 0.01 * rng.standard_normal(sum(len(p) for p in pieces))
            path = audio / f"{utt}.wav"
            sf.write(path, x, 16000, subtype="PCM_16")
            d.wav_scp[utt], d.utt2spk[utt], d.text[utt], d.utt2dur[utt] = str(path), spk, " ".join(text), len(x) / 16000
        out[name] = d.save(data / name)
    local = data / "local"
    (local / "dict").mkdir(parents=True)
    atomic_write_text(local / "dict" / "lexicon.txt", "".join(f"{w} {p}\n" for w, p in SMOKE_LEXICON.items()))
    atomic_write_text(local / "lm_train.txt", "".join(t + "\n" for t in DataDir.load(out["train"]).text.values()))
    out["lexicon"], out["lm_train"] = local / "dict" / "lexicon.txt", local / "lm_train.txt"
    return out
