"""report.html: one self-contained page (no network): summary, plots (matplotlib PNGs embedded as base64),
per-speaker and confusion tables, and a searchable list of sclite-style aligned utterances.

The markup is in templates/ (Jinja2, values escaped); here are what the page shows and the helpers every page of
asr.scoring uses (`render`, `figure`, `png_uri`; compare.html is the other page).

A `window.onerror` hook writes any script error into `#js-errors` (and sets `data-js-errors` on <body>), and a
successful run sets `data-ready="1"`: a headless browser's dumped DOM shows whether the page ran cleanly.
"""

from __future__ import annotations

import base64
import functools
import io
import json
from typing import TYPE_CHECKING, Optional

from asr.scoring.formats import fmt1

if TYPE_CHECKING:
    from asr.scoring.report import Report

MAX_UTTS_LISTED = 20000


@functools.lru_cache(maxsize=1)
def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("asr.scoring", "templates"), autoescape=True,
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def render(template: str, **context) -> str:
    """A page from asr/scoring/templates/ (Jinja2), every value HTML-escaped unless marked safe."""
    return _templates().get_template(template).render(**context)


def png_uri(fig) -> str:
    """A matplotlib figure as a `data:` URI, for an <img> of a self-contained page."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure(w: float = 5.6, h: float = 3.2):
    """A matplotlib figure and its axes, off any display (no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    return fig, fig.subplots()


def plot_speakers(report: "Report") -> Optional[str]:
    spk = report.per_speaker()
    if not spk:
        return None
    names = list(spk)
    wers = [100.0 * s["word"].rate if s["word"].ref_len else 0.0 for s in spk.values()]
    fig, ax = figure(max(5.6, 0.35 * len(names) + 2), 3.4)
    ax.bar(range(len(names)), wers, color="#3b7dd8")
    ax.axhline(report.wer if report.word.ref_len else 0.0, color="#c0392b", ls="--", lw=1,
               label=f"all: {report.wer:.2f}%")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center",
                       fontsize=8)
    ax.set_ylabel("WER (%)")
    ax.set_title("WER per speaker")
    ax.legend(fontsize=8)
    return png_uri(fig)


def plot_error_types(report: "Report") -> str:
    c = report.word
    fig, ax = figure(4.6, 3.2)
    labels, values, colors = ["Sub", "Del", "Ins"], [c.sub, c.dels, c.ins], ["#e08a1e", "#c0392b", "#1f6fb2"]
    ax.bar(labels, values, color=colors)
    ax.yaxis.get_major_locator().set_params(integer=True)
    for i, v in enumerate(values):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("errors (words)")
    ax.set_title(f"Errors by type ({c.errors} in all)")
    return png_uri(fig)


def plot_length(report: "Report") -> Optional[str]:
    pts = [(u.counts.ref_len, u.wer) for u in report.utts if u.counts.ref_len > 0]
    if not pts:
        return None
    fig, ax = figure(5.6, 3.4)
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, alpha=0.4, color="#3b7dd8", label="utterance")
    buckets = [b for b in report.length_buckets() if b["wer"] is not None]
    mids = []
    for b in buckets:
        sel = [u.counts.ref_len for u in report.utts if _in_bucket(u.counts.ref_len, b["bucket"])]
        mids.append(sum(sel) / len(sel))
    ax.plot(mids, [b["wer"] for b in buckets], "-o", color="#c0392b", ms=4, label="bucket WER")
    lengths = [p[0] for p in pts]
    if max(lengths) >= 20 * min(lengths):
        ax.set_xscale("log")
    ax.set_xlabel("reference length (words)")
    ax.set_ylabel("WER (%)")
    ax.set_title("WER against utterance length")
    ax.legend(fontsize=8)
    return png_uri(fig)


def _in_bucket(n: int, label: str) -> bool:
    if label.endswith("+"):
        return n >= int(label[:-1])
    lo, _, hi = label.partition("-")
    return int(lo) <= n <= int(hi or lo)


def _blocks(ops: list, width: int = 110) -> list[list]:
    """An utterance's alignment cut into blocks of about `width` characters (one REF/HYP/Eval table each)."""
    blocks, cur, used = [], [], 0
    for o in ops:
        w = max(len(o.ref or "***"), len(o.hyp or "***")) + 1
        if cur and used + w > width:
            blocks.append(cur)
            cur, used = [], 0
        cur.append(o)
        used += w
    blocks.append(cur)
    return blocks


def report_html(report: "Report") -> str:
    """The page (templates/report.html) of a scored set."""
    d = report.to_dict()
    boot = report.bootstrap
    sc = report.sclite_summary("word").sum()["sum"]
    cards = [("WER", f"{report.wer:.2f}%", f"95% CI [{boot.low:.2f}, {boot.high:.2f}]"),
             ("CER", f"{report.cer:.2f}%", f"{report.char.errors} / {report.char.ref_len} chars"),
             ("Sentence errors", f"{report.ser:.2f}%", f"{report.sent_errors} / {report.num_sent} utts"),
             ("Words", str(report.word.ref_len), f"{report.num_sent} utterances")]
    sclite_rows = [[level.upper()] + [s["snt"], s["wrd"]] + [
        fmt1(s[c]) for c in ("corr", "sub", "del", "ins", "err", "serr")]
        for level, s in (("wer", sc), ("cer", report.sclite_summary("char").sum()["sum"]))]
    speaker_rows = [[n, s["sent"], s["words"], s["sub"], s["del"], s["ins"], s["errors"],
                     "-" if s["wer"] is None else f"{s['wer']:.2f}", f"{s['ser']:.2f}"]
                    for n, s in d["per_speaker"].items()]
    conf = d["confusions"]
    plots = [("per speaker", plot_speakers(report)), ("errors by type", plot_error_types(report)),
             ("WER against length", plot_length(report))]
    utts = [(u, f"{u.utt} {u.spk} {' '.join(u.ref)} {' '.join(u.hyp)}".lower(), _blocks(u.sclite_ops))
            for u in report.utts[:MAX_UTTS_LISTED]]
    return render(
        "report.html", name=report.name, ref_path=report.ref_path, hyp_path=report.hyp_path, cards=cards,
        kaldi_lines=report.kaldi_lines(), normalization=report.normalization.describe(),
        speaker_source=report.speaker_source, missing=d["missing"], sclite_rows=sclite_rows,
        speaker_rows=speaker_rows, plots=[(title, src) for title, src in plots if src],
        substitutions=[[s["ref"], s["hyp"], s["count"]] for s in conf["substitutions"]],
        deletions=[[s["word"], s["count"]] for s in conf["deletions"]],
        insertions=[[s["word"], s["count"]] for s in conf["insertions"]],
        utts=utts, num_utts=len(report.utts), summary_json=_json_for_script(d["kaldi"]))


def _json_for_script(obj) -> str:
    """JSON to put inside <script> as it is (the template marks it safe): `</` cannot end the element."""
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")
