"""Speaker CMN (`model.cmn: speaker`, Kaldi's apply-cmvn --utt2spk, means only): the speaker's mean from
cmvn.scp is subtracted in training, in `asr decode` and, over the recordings it is given, in the Transcriber;
the three agree, so `asr transcribe` on one speaker's folder gives the recipe's decode."""

from __future__ import annotations

import copy

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from asr.data.datadir import DataDir
from asr.data.dataset import FeatureDataset
from asr.decoding.decode import stream_log_probs
from asr.errors import ConfigError, DataError
from asr.features.extract import compute_cmvn_stats, make_feats, speaker_cmvn
from asr.features.kaldi import FeatureConfig
from asr.model.model import ModelConfig
from asr.model.store import load_model_dir
from asr.text.tokenizer import CharTokenizer
from asr.training.trainer import train
from asr.transcribe import Transcriber
from helpers.training import CONFIG, make_data
from helpers.transcribe import make_model_dir


def test_speaker_cmvn_is_each_speakers_frame_mean_and_std(tmp_path):
    data = make_data(tmp_path, "train", 8, 0)
    feats = kaldiio.load_scp(str(data / "feats.scp"))
    utt2spk = DataDir.load(data).utt2spk
    means, mv = speaker_cmvn(data), speaker_cmvn(data, norm_vars=True)
    assert sorted(means) == sorted(mv) == sorted(utt2spk)
    for spk in ("spk0", "spk1"):
        frames = np.concatenate([feats[u] for u in sorted(feats) if utt2spk[u] == spk])
        for utt in (u for u in utt2spk if utt2spk[u] == spk):
            np.testing.assert_allclose(means[utt][0], frames.mean(0), rtol=1e-5, atol=1e-6)
            assert np.array_equal(means[utt][1], np.ones(frames.shape[1], np.float32))
            np.testing.assert_allclose(mv[utt][1], frames.std(0), rtol=1e-4)
    for cmvn, var in ((means, None), (mv, 1.0)):
        normalised = FeatureDataset(data, cmvn=cmvn)
        for spk in ("spk0", "spk1"):
            frames = torch.cat([f for u, f in zip(normalised.utt_ids, normalised.feats) if utt2spk[u] == spk])
            assert frames.mean(0).abs().max() < 1e-5
            if var:
                torch.testing.assert_close(frames.var(0, unbiased=False), torch.ones(frames.shape[1]), atol=1e-4,
                                           rtol=1e-4)
    (data / "cmvn.scp").unlink()
    with pytest.raises(DataError, match=r"cmvn.scp: missing"):
        speaker_cmvn(data)


def test_speaker_cmn_trains_on_centred_features_and_refuses_streaming(tmp_path):
    train_dir, dev_dir = make_data(tmp_path, "train", 12, 0), make_data(tmp_path, "dev", 3, 1)
    tokens = tmp_path / "tokens.txt"
    CharTokenizer.build(["a b"]).save(tokens)
    config = copy.deepcopy(CONFIG)
    config["model"]["cmn"] = "speaker"
    config["training"]["epochs"] = 1
    loaded = load_model_dir(train(config, train_dir, dev_dir, tokens, tmp_path / "exp", device="cpu",
                                  progress=False))
    assert loaded.model.config.cmn == "speaker"
    # the global CMVN stored is that of speaker-centred features: mean 0 (raw features' spk means are not)
    assert loaded.model.cmvn.shift.abs().max() < 1e-5
    with pytest.raises(ConfigError, match="speaker CMN"):
        ModelConfig.from_dict({"cmn": "speaker", "bidirectional": False})
    from asr.export.onnx import export_onnx

    with pytest.raises(ConfigError, match="cmn: speaker needs each speaker's mean"):
        export_onnx(tmp_path / "exp", tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("cmn", ["speaker", "speaker_mv"])
def test_transcriber_over_one_speakers_files_equals_decoding_their_data_dir(tmp_path, cmn):
    rng = np.random.default_rng(0)
    d = DataDir(text={})
    for i in range(4):
        path = tmp_path / "audio" / f"u{i}.wav"
        path.parent.mkdir(exist_ok=True)
        x = rng.standard_normal(4000 + 1200 * i) * (0.05 + 0.05 * i)  # levels differ: the means differ too
        sf.write(path, x, 8000, subtype="PCM_16")
        d.wav_scp[f"u{i}"], d.text[f"u{i}"], d.utt2spk[f"u{i}"] = str(path), "YES", "spk"
    data = d.save(tmp_path / "data")
    make_feats(data, FeatureConfig(sample_rate=8000, num_mel_bins=40), tmp_path / "fbank", progress=False)
    compute_cmvn_stats(data, tmp_path / "fbank")
    model = make_model_dir(tmp_path / "model", cmn=cmn)
    loaded = load_model_dir(model)
    decoded = {}
    for utts, log_probs, lengths, _ in stream_log_probs(loaded, data):
        for u, lp, n in zip(utts, log_probs, lengths.tolist()):
            decoded[u] = lp[:n]

    t = Transcriber.from_pretrained(model, "cpu", word_times="ctc")
    files = [d.wav_scp[u] for u in sorted(d.wav_scp)]
    alone = [t.speaker_normalised(t.features(f)) for f in files]  # no speaker set: each its own mean
    assert t.set_speaker(files) == sum(int(x) for x in (data / "utt2num_frames").read_text().split()[1::2])
    for utt, f, own in zip(sorted(d.wav_scp), files, alone):
        feats = t.speaker_normalised(t.features(f))
        with torch.no_grad():
            lp, _ = loaded.model(feats[None], torch.tensor([feats.shape[0]]))
        torch.testing.assert_close(lp[0], decoded[utt], atol=1e-4, rtol=1e-4)
        assert not torch.allclose(own, feats, atol=1e-3)  # the speaker's mean is not the recording's own
    hyps = {tr.audio: tr.text for tr in t.transcribe_many(files)}
    greedy = {u: loaded.tokenizer.decode([i for j, i in enumerate(lp.argmax(-1).tolist())
                                          if i and (j == 0 or i != lp.argmax(-1)[j - 1])])
              for u, lp in decoded.items()}
    assert [hyps[f] for f in files] == [greedy[u] for u in sorted(d.wav_scp)]
    # `asr transcribe MODEL FOLDER` takes the folder as one speaker (the default --cmn-over inputs)
    from typer.testing import CliRunner

    from asr.cli import app

    result = CliRunner().invoke(app, ["transcribe", str(model), str(tmp_path / "audio"), "--word-times", "ctc"])
    assert result.exit_code == 0, result.output
    cli = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert [cli[f] for f in files] == [hyps[f] for f in files]
    t.speaker_stats = None
    each = {tr.audio: tr.text for tr in t.transcribe_many(files)}
    result = CliRunner().invoke(app, ["transcribe", str(model), str(tmp_path / "audio"), "--word-times", "ctc",
                                      "--cmn-over", "each"])
    assert dict(line.split("\t", 1) for line in result.stdout.splitlines()) == each
    result = CliRunner().invoke(app, ["transcribe", str(model), str(tmp_path / "audio"), "--cmn-over", "all"])
    assert result.exit_code == 1 and "--cmn-over all: choose inputs or each" in result.output
