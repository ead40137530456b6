"""Scoring: Kaldi and sclite figures, bootstrap intervals, system comparison, text/Markdown/JSON/HTML reports.

align        count_errors / align (Kaldi compute-wer counts, kaldialign), align_sclite (sclite's alignment)
normalize    Normalization: case, punctuation, dropped tokens, hesitations
transcripts  Kaldi `text` and sclite `trn` reading, REF/HYP pairing with missing-utterance accounting
sclite       sclite's sum/rsum tables
stats        bootstrap interval and paired bootstrap (compute-wer-bootci)
report       score_files / write_report -> Report
formats      per_utt, per_spk, ops, pralign, results.md
html         report.html, and the page helpers (templates/: the Jinja2 markup of both pages)
compare      asr compare
results      asr results: a recipe's RESULTS.md
"""

from asr.scoring.align import ErrorCounts, count_errors

__all__ = ["ErrorCounts", "count_errors"]
