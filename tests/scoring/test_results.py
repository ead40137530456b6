"""`asr results`: RESULTS.md from scored decode dirs and the recipe's run log (stage wall times)."""

import subprocess
import sys

import yaml

LOG = """# 2026-01-01T00:00:00Z ./run.sh --old
# git aaaaaaa
# stage 0: data preparation (00:00:00, t=100)
# 2026-01-02T00:00:00Z ./run.sh --stage 0
# git 1234567
# python 3.11.7, torch 2.14.1, torchaudio 2.11.0, numpy 2.4.6, threads 1
#   stage=0
# stage 0: data preparation (00:00:00, t=1000)
run something
# stage 7: decoding (00:00:10, t=1010)
# end (00:01:00, t=1060)
"""
RESULTS_RERUN = ("# 2026-01-03T00:00:00Z ./run.sh --stage 9 --notes N\n# git 7654321\n"
                 "# stage 9: results (00:00:00, t=5000)\n# end (00:00:01, t=5001)\n")


def test_results_md(tmp_path):
    from asr.scoring.report import write_report

    exp = tmp_path / "exp" / "run1"
    (tmp_path / "ref").write_text("s1-a YES NO\ns1-b NO\n")
    for dec, hyp in (("lm", "s1-a YES NO\ns1-b NO\n"), ("greedy", "s1-a YES\ns1-b NO\n")):
        d = exp / f"decode_dev_{dec}"
        d.mkdir(parents=True)
        (d / "text").write_text(hyp)
        write_report(tmp_path / "ref", d / "text", d)
        settings = {"model": "exp/model", "data": "data/dev", "decoder": dec, "beam_size": 50, "lm": "lm.arpa",
                    "lexicon": "lex.txt", "lm_weight": 1.5, "word_score": -1.0, "tune_lm_weights": [1, 1.5],
                    "tune_word_scores": [-1, 0], "lm_params": None}
        (d / "decode.yaml").write_text(yaml.safe_dump(settings))
    (tmp_path / "exp" / "log").mkdir()
    (tmp_path / "exp" / "log" / "run.log").write_text(LOG)
    subprocess.run([sys.executable, "-m", "asr.cli", "results", "--exp", "exp/run1", "--run-log",
                    "exp/log/run.log", "--out", "RESULTS.md", "--title", "T"], cwd=tmp_path, check=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "git hash: 1234567" in text and "--old" not in text  # the last run only
    wer = text.split("## WER")[1].split("## CER")[0]
    rows = [line for line in wer.splitlines() if line.startswith("|decode")]
    assert rows == ["|decode_dev_greedy|2|3|66.7|0.0|33.3|0.0|33.3|50.0|", "|decode_dev_lm|2|3|100.0|0.0|0.0|0.0|0.0|0.0|"]
    assert "--tune-lm-weights 1,1.5 --tune-word-scores -1,0" in text and "(lm_weight 1.5, word_score -1)" in text
    assert "|0: data preparation|10|" in text and "|7: decoding|50|" in text and "|total|60|" in text
    assert "Of the run" not in text
    # a rerun of the results stage alone (to add notes) keeps the full run's stage times, and says whose they are
    (tmp_path / "exp" / "log" / "run.log").write_text(LOG + RESULTS_RERUN)
    subprocess.run([sys.executable, "-m", "asr.cli", "results", "--exp", "exp/run1", "--run-log",
                    "exp/log/run.log", "--out", "RESULTS.md", "--title", "T"], cwd=tmp_path, check=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "git hash: 7654321" in text and "Of the run `2026-01-02T00:00:00Z ./run.sh --stage 0`" in text
    assert "|7: decoding|50|" in text and "|total|60|" in text and "9: results" not in text


def test_results_without_scored_dirs_is_one_line_error(tmp_path):
    (tmp_path / "exp" / "run1").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "asr.cli", "results", "--exp", "exp/run1", "--run-log",
                           "exp/log/run.log", "--out", "RESULTS.md"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and not (tmp_path / "RESULTS.md").exists()
    assert proc.stderr == "asr: error: exp/run1: no scored decode_* dirs (run the scoring stage first)\n"


def test_how_a_lexicon_row_without_lm_was_produced(tmp_path):
    from asr.scoring.results import how

    d = tmp_path / "decode_dev_lexicon"
    d.mkdir()
    settings = {"model": "exp/tag/ave_5", "data": "data/dev", "decoder": "lm", "beam_size": 20, "lm": None,
                "lexicon": "data/local/words.txt", "lm_weight": 0.0, "word_score": 0.0, "tune_lm_weights": [],
                "tune_word_scores": [], "lm_params": None}
    (d / "decode.yaml").write_text(yaml.safe_dump(settings))
    assert how(d, "dev").startswith(f"`asr decode exp/tag/ave_5 data/dev {d} --decoder lm --beam-size 20 "
                                    "--lexicon data/local/words.txt --lm-weight 0 --word-score 0` then `asr score")
    assert how(d, "dev").endswith(f"--out {d}`")  # the weights are in the command
    settings["nbest"] = 20  # rescoring of the search's 20 best: a setting the command must carry
    (d / "decode.yaml").write_text(yaml.safe_dump(settings))
    assert "--lexicon data/local/words.txt --nbest 20 --lm-weight 0" in how(d, "dev")


def test_an_ensembles_model_section_names_its_members(tmp_path, monkeypatch):
    from asr.scoring.results import model_section

    model = tmp_path / "exp" / "model"
    model.mkdir(parents=True)
    members = [{"source": f"exp/r/seed{s}/ave_5", "model": {"hidden_size": 192}} for s in (1, 4)]
    (model / "config.yaml").write_text(yaml.safe_dump({"model": {"hidden_size": 192}, "ensemble": {"members": members}}))
    monkeypatch.chdir(tmp_path)
    lines = model_section([tmp_path / "exp" / "r"])
    assert "- ensemble: the posterior average of 2 models (`model` and `training` above are the first's): " \
           "`exp/r/seed1/ave_5`, `exp/r/seed4/ave_5`" in lines
    (model / "config.yaml").write_text(yaml.safe_dump({"model": {"hidden_size": 192}}))
    assert not any(line.startswith("- ensemble") for line in model_section([tmp_path / "exp" / "r"]))


def test_a_results_only_rerun_keeps_the_full_runs_stage_times(tmp_path):
    from asr.scoring.results import timed_run

    rerun = RESULTS_RERUN
    log = tmp_path / "run.log"
    log.write_text(LOG + rerun)
    command, stages, end = timed_run(log)
    assert command == "2026-01-02T00:00:00Z ./run.sh --stage 0" and end == 1060
    assert [title for title, _ in stages] == ["0: data preparation", "7: decoding"]
    log.write_text(LOG + rerun.replace("# stage 9: results", "# stage 8: scoring (00:00:00, t=4990)\n# stage 9: results"))
    command, stages, _ = timed_run(log)
    assert command.endswith("--stage 9 --notes N") and len(stages) == 2  # it ran more than the results: its own
