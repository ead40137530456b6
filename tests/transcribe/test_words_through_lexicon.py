"""Units that are not words (phones) print words through the lexicon decoder; `--units` still gives the units."""

from __future__ import annotations

import pytest

from asr.decoding.config import DecoderConfig
from asr.model.store import LoadedModel
from asr.text.phone import PhoneTokenizer
from asr.transcribe import Transcriber
from helpers.transcribe import TOKENS, level_audio, level_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def phone_model(tmp_path) -> tuple[LoadedModel, str]:
    """The LevelModel read as phones A and B, with a lexicon spelling the words AY (A) and BEE (B)."""
    lexicon = {"AY": [["A"]], "BEE": [["B"]]}
    base = level_model()
    path = tmp_path / "lexicon.txt"
    path.write_text("AY A\nBEE B\n")
    return LoadedModel(base.model, PhoneTokenizer(TOKENS, lexicon), base.features, {}), str(path)


def test_phone_model_prints_the_lexicon_words_with_times(tmp_path):
    pytest.importorskip("flashlight.lib.text")
    loaded, lexicon = phone_model(tmp_path)
    audio, truth = level_audio(6, seed=2)
    result = Transcriber(loaded, decoder=DecoderConfig("lm", lexicon=lexicon, beam_size=20)).transcribe(audio)
    assert result.text == " ".join({"A": "AY", "B": "BEE"}[w.word] for w in truth)
    for word, placed in zip(result.words, truth):
        assert abs(word.start_s - placed.start_s) < 0.1 and 0 < word.confidence <= 1


def test_the_models_decoder_is_the_default_and_units_ask_for_units(tmp_path):
    pytest.importorskip("flashlight.lib.text")
    loaded, lexicon = phone_model(tmp_path)
    loaded.config["decoding"] = {"decoder": "lm", "lexicon": lexicon, "beam_size": 20}
    audio, truth = level_audio(4, seed=3)
    assert Transcriber(loaded).transcribe(audio).text == " ".join({"A": "AY", "B": "BEE"}[w.word] for w in truth)
    units = Transcriber(loaded, decoder=DecoderConfig(units=True)).transcribe(audio).text
    assert units == " ".join(w.word for w in truth)
