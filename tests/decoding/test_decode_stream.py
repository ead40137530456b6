"""Streaming decoding (features read batch by batch): the same hypotheses as decoding every utterance on its
own, for each decoder; a phone model's units come out of greedy/beam only when asked (`units`)."""

from __future__ import annotations

import pytest

from asr.data.dataset import FeatureDataset
from asr.decoding.config import DecoderConfig
from asr.decoding.decode import batch_decoder, compute_log_probs, decode_data_dir, hypotheses, stream_log_probs
from asr.errors import ConfigError
from asr.model.store import load_model_dir
from asr.text.phone import PhoneTokenizer
from helpers.decode import decode_setup

TEXTS = {f"s{i % 3}-u{i}": t for i, t in enumerate(["YES NO", "NO", "YES YES", "NO YES NO", "YES", "NO NO"])}
LEXICON = {"YES": [["Y", "EH", "S"]], "NO": [["N", "OW"]]}


@pytest.fixture
def setup(tmp_path):
    data, model_dir = decode_setup(tmp_path, TEXTS, PhoneTokenizer.build(LEXICON), [20 + 7 * i for i in range(len(TEXTS))],
                                   num_layers=2)
    return tmp_path, load_model_dir(model_dir), data


@pytest.mark.parametrize("decoder", ["greedy", "beam", "lm", "lm-nbest"])
def test_streamed_batches_equal_one_utterance_at_a_time(setup, decoder):
    tmp, loaded, data = setup
    decoder, _, rescored = decoder.partition("-")
    opts = DecoderConfig(decoder=decoder, units=decoder != "lm", lm=str(tmp / "lm.arpa"),
                         lexicon=str(tmp / "lexicon.txt"), beam_size=8, nbest=5 if rescored else None)
    each = hypotheses(loaded, compute_log_probs(loaded, FeatureDataset(data)), opts)
    decode, streamed, batches = batch_decoder(loaded, opts), {}, 0
    for utts, log_probs, lengths, _ in stream_log_probs(loaded, data, max_frames=80):  # several batches
        assert log_probs.shape[0] == len(utts) == len(lengths)
        streamed.update(zip(utts, decode(log_probs, lengths)))
        batches += 1
    assert batches > 1 and streamed == each and set(each) == set(TEXTS)


def test_decode_data_dir_streams_and_writes_every_utterance(setup):
    tmp, loaded, data = setup
    out = decode_data_dir(tmp / "model", data, tmp / "dec", progress=False,
                          config=DecoderConfig(decoder="greedy", units=True))
    assert [line.split()[0] for line in out.read_text().splitlines()] == sorted(TEXTS)


def test_phone_units_only_when_asked(setup):
    _, loaded, _ = setup
    with pytest.raises(ConfigError, match="lexicon"):
        batch_decoder(loaded, DecoderConfig(decoder="greedy"))
