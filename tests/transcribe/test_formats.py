"""Transcript writers: text, JSON, CTM, SRT, WebVTT, and output file names."""

from __future__ import annotations

import json

import pytest

from asr.transcribe import Transcript
from asr.transcribe.align import Word
from asr.transcribe.formats import cues, output_names, render, timestamp

WORDS = [Word("NO", 0.75, 1.2, 0.98), Word("YES", 1.29, 1.8, 0.6), Word("NO", 4.5, 4.95, 0.91),
         Word("YES", 3661.5, 3662.25, 1.0)]


@pytest.fixture
def transcript():
    return Transcript("dir/my file.wav", WORDS, 3700.0)


def test_text_is_file_tab_words(transcript):
    assert render(transcript, "text") == "dir/my file.wav\tNO YES NO YES\n"


def test_json_has_words_with_times_and_confidence(transcript):
    line = render(transcript, "json")
    assert line.count("\n") == 1  # JSON Lines on stdout
    d = json.loads(line)
    assert d["audio"] == "dir/my file.wav" and d["text"] == "NO YES NO YES" and d["duration"] == 3700.0
    assert d["words"][1] == {"word": "YES", "start": 1.29, "end": 1.8, "confidence": 0.6}
    assert json.loads(render(transcript, "json", to_file=True)) == d


def test_ctm_is_kaldi_style(transcript):
    lines = render(transcript, "ctm").splitlines()
    assert lines[0] == "dir/my_file.wav 1 0.75 0.45 NO 0.98"  # white space in the key would split the fields
    assert [len(line.split()) for line in lines] == [6] * 4
    assert lines[3].split()[2:4] == ["3661.50", "0.75"]


def test_srt_cues_split_at_pauses_and_number_from_one(transcript):
    srt = render(transcript, "srt")
    blocks = srt.strip().split("\n\n")
    assert blocks[0] == "1\n00:00:00,750 --> 00:00:01,800\nNO YES"
    assert blocks[1] == "2\n00:00:04,500 --> 00:00:04,950\nNO"
    assert blocks[2] == "3\n01:01:01,500 --> 01:01:02,250\nYES"


def test_vtt_header_and_dot_millis(transcript):
    vtt = render(transcript, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.750 --> 00:00:01.800\nNO YES\n\n")
    assert vtt.count("-->") == 3


def test_empty_transcript_renders_in_every_format():
    empty = Transcript("a.wav", [], 1.0)
    assert render(empty, "text") == "a.wav\t\n"
    assert json.loads(render(empty, "json"))["words"] == []
    assert render(empty, "ctm") == "" and render(empty, "srt") == "" and render(empty, "vtt") == "WEBVTT\n\n"


def test_cues_respect_length_and_duration_limits():
    many = [Word("WORD", i * 0.5, i * 0.5 + 0.4, 1.0) for i in range(30)]
    groups = cues(many, max_chars=42, max_cue_s=5.0, max_gap_s=1.0)
    assert sum(len(g) for g in groups) == 30
    assert all(len(" ".join(w.word for w in g)) <= 42 for g in groups)
    assert all(g[-1].end_s - g[0].start_s <= 5.0 for g in groups)


def test_timestamp_rounds_to_milliseconds():
    assert timestamp(0.0, ",") == "00:00:00,000"
    assert timestamp(59.9996, ".") == "00:01:00.000"
    assert timestamp(36000.123, ",") == "10:00:00,123"


def test_output_names_are_unique():
    assert output_names(["a/x.wav", "b/y.flac", "-"]) == ["x", "y", "stdin"]
    assert output_names(["a/x.wav", "a/x.flac"]) == ["x.wav", "x.flac"]
    assert output_names(["a/x.wav", "b/x.wav"]) == ["a_x.wav", "b_x.wav"]
    assert output_names(["utt1", "utt2"]) == ["utt1", "utt2"]
