"""report.html: one self-contained page (no network): summary, plots (matplotlib PNGs embedded as base64),
per-speaker and confusion tables, and a searchable list of sclite-style aligned utterances.

A `window.onerror` hook writes any script error into `#js-errors` (and sets `data-js-errors` on <body>), and a
successful run sets `data-ready="1"`: a headless browser's dumped DOM shows whether the page ran cleanly.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import TYPE_CHECKING, Optional

from asr.scoring.formats import fmt1

if TYPE_CHECKING:
    from asr.scoring.report import Report

MAX_UTTS_LISTED = 20000

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#243447;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header .sub{opacity:.8;font-size:13px;margin-top:4px;word-break:break-all}
main{padding:18px 28px;max-width:1200px}section{background:#fff;border-radius:8px;padding:14px 18px;margin:0 0 16px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 150px;background:#f0f4f8;border-radius:8px;padding:10px 14px}
.card .v{font-size:26px;font-weight:600}.card .l{font-size:12px;color:#556}.card .ci{font-size:12px;color:#556}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 9px;border-bottom:1px solid #e3e6ea;text-align:right}
th{background:#f0f2f5}td.t,th.t{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:16px}
.grid>div{flex:1 1 340px}img{max-width:100%}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace}
.note{font-size:13px;color:#445}.warn{background:#fff4e0;border-left:4px solid #f0a020;padding:6px 10px}
#filter{padding:6px 8px;width:320px;font-size:14px}.utt{border-top:1px solid #eee;padding:6px 0}
.utt .id{font-weight:600;font-size:13px}.utt .sc{font-size:12px;color:#667;margin-left:8px}
.al{border-collapse:collapse;margin-top:3px}.al td{border:none;padding:0 6px 0 0;text-align:left;
font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;white-space:pre}
.al td.h{color:#889;font-size:11px;padding-right:10px}.S{color:#b35c00;font-weight:600}.D{color:#c0392b;font-weight:600}
.I{color:#1f6fb2;font-weight:600}.ev{font-size:11px}
"""

SCRIPT = """
(function(){
  var box=document.getElementById('filter'), only=document.getElementById('only-err');
  var items=Array.prototype.slice.call(document.querySelectorAll('#utts .utt'));
  var count=document.getElementById('shown');
  function apply(){
    var q=(box.value||'').toLowerCase(), n=0;
    items.forEach(function(el){
      var ok=(!q||el.getAttribute('data-text').indexOf(q)>=0)&&(!only.checked||el.getAttribute('data-err')!=='0');
      el.style.display=ok?'':'none'; if(ok)n++;
    });
    count.textContent=n+' of '+items.length+' shown';
  }
  box.addEventListener('input',apply); only.addEventListener('change',apply); apply();
  document.body.setAttribute('data-ready','1');
})();
"""

ONERROR = """
window.onerror=function(msg,src,line){
  var b=document.getElementById('js-errors');
  if(b){b.textContent+='JS-ERROR: '+msg+' (line '+line+')\\n';b.style.display='block';}
  document.documentElement.setAttribute('data-js-errors','1');
};
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float = 5.6, h: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    return fig, fig.subplots()


def plot_speakers(report: "Report") -> Optional[str]:
    spk = report.per_speaker()
    if not spk:
        return None
    names = list(spk)
    wers = [100.0 * s["word"].rate if s["word"].ref_len else 0.0 for s in spk.values()]
    fig, ax = _figure(max(5.6, 0.35 * len(names) + 2), 3.4)
    ax.bar(range(len(names)), wers, color="#3b7dd8")
    ax.axhline(report.wer if report.word.ref_len else 0.0, color="#c0392b", ls="--", lw=1,
               label=f"all: {report.wer:.2f}%")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center",
                       fontsize=8)
    ax.set_ylabel("WER (%)")
    ax.set_title("WER per speaker")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_error_types(report: "Report") -> str:
    c = report.word
    fig, ax = _figure(4.6, 3.2)
    labels, values, colors = ["Sub", "Del", "Ins"], [c.sub, c.dels, c.ins], ["#e08a1e", "#c0392b", "#1f6fb2"]
    ax.bar(labels, values, color=colors)
    ax.yaxis.get_major_locator().set_params(integer=True)
    for i, v in enumerate(values):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("errors (words)")
    ax.set_title(f"Errors by type ({c.errors} in all)")
    return _png(fig)


def plot_length(report: "Report") -> Optional[str]:
    pts = [(u.counts.ref_len, u.wer) for u in report.utts if u.counts.ref_len > 0]
    if not pts:
        return None
    fig, ax = _figure(5.6, 3.4)
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
    return _png(fig)


def _in_bucket(n: int, label: str) -> bool:
    if label.endswith("+"):
        return n >= int(label[:-1])
    lo, _, hi = label.partition("-")
    return int(lo) <= n <= int(hi or lo)


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def _table(head: list[str], rows: list[list], left: int = 1) -> str:
    th = "".join(f"<th class='t'>{_esc(h)}</th>" if i < left else f"<th>{_esc(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td class='t'>{_esc(v)}</td>" if i < left else f"<td>{_esc(v)}</td>"
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _alignment(u, width: int = 110) -> str:
    """REF/HYP/Eval rows, wrapped into blocks of about `width` characters."""
    blocks, cur, used = [], [], 0
    for o in u.sclite_ops:
        w = max(len(o.ref or "***"), len(o.hyp or "***")) + 1
        if cur and used + w > width:
            blocks.append(cur)
            cur, used = [], 0
        cur.append(o)
        used += w
    blocks.append(cur)
    out = []
    for ops in blocks:
        r, h, e = [], [], []
        for o in ops:
            cls = "" if o.kind == "C" else f" class='{o.kind}'"
            r.append(f"<td{cls}>{_esc(o.ref) if o.ref is not None else '***'}</td>")
            h.append(f"<td{cls}>{_esc(o.hyp) if o.hyp is not None else '***'}</td>")
            e.append(f"<td class='ev {o.kind}'>{'' if o.kind == 'C' else o.kind}</td>")
        out.append("<table class='al'>"
                   f"<tr><td class='h'>REF:</td>{''.join(r)}</tr>"
                   f"<tr><td class='h'>HYP:</td>{''.join(h)}</tr>"
                   f"<tr><td class='h'>Eval:</td>{''.join(e)}</tr></table>")
    return "".join(out)


def report_html(report: "Report") -> str:
    d = report.to_dict()
    boot = report.bootstrap
    sc = report.sclite_summary("word").sum()["sum"]
    cards = [("WER", f"{report.wer:.2f}%", f"95% CI [{boot.low:.2f}, {boot.high:.2f}]"),
             ("CER", f"{report.cer:.2f}%", f"{report.char.errors} / {report.char.ref_len} chars"),
             ("Sentence errors", f"{report.ser:.2f}%", f"{report.sent_errors} / {report.num_sent} utts"),
             ("Words", str(report.word.ref_len), f"{report.num_sent} utterances")]
    cards_html = "".join(f"<div class='card'><div class='l'>{_esc(l)}</div><div class='v'>{_esc(v)}</div>"
                         f"<div class='ci'>{_esc(ci)}</div></div>" for l, v, ci in cards)
    sclite_rows = [[level.upper()] + [s["snt"], s["wrd"]] + [
        fmt1(s[c]) for c in ("corr", "sub", "del", "ins", "err", "serr")]
        for level, s in (("wer", sc), ("cer", report.sclite_summary("char").sum()["sum"]))]
    missing = d["missing"]
    warn = ""
    if missing["ref_only"] or missing["hyp_only"]:
        warn = (f"<p class='warn'>{missing['ref_only']} utterance(s) of REF had no hypothesis: "
                f"{_esc(missing['ref_only_counted_as'])}. {missing['hyp_only']} utterance(s) of HYP had no "
                f"reference: ignored.</p>")
    spk_rows = [[n, s["sent"], s["words"], s["sub"], s["del"], s["ins"], s["errors"],
                 "-" if s["wer"] is None else f"{s['wer']:.2f}", f"{s['ser']:.2f}"]
                for n, s in d["per_speaker"].items()]
    conf = d["confusions"]
    plots = [("per speaker", plot_speakers(report)), ("errors by type", plot_error_types(report)),
             ("WER against length", plot_length(report))]
    plots_html = "".join(f"<div><img alt='{_esc(t)}' src='{src}'></div>" for t, src in plots if src)
    utts = report.utts[:MAX_UTTS_LISTED]
    utt_html = []
    for u in utts:
        text = f"{u.utt} {u.spk} {' '.join(u.ref)} {' '.join(u.hyp)}".lower()
        c = u.sclite
        utt_html.append(
            f"<div class='utt' data-err='{u.counts.errors}' data-text='{_esc(text)}'>"
            f"<span class='id'>{_esc(u.utt)}</span><span class='sc'>spk {_esc(u.spk)} · "
            f"C {c.correct} S {c.sub} D {c.dels} I {c.ins}"
            f"{' · no hypothesis (scored as empty)' if u.missing else ''}</span>{_alignment(u)}</div>")
    more = (f"<p class='note'>Only the first {MAX_UTTS_LISTED} of {len(report.utts)} utterances are listed; "
            f"all are in report.json and pralign.</p>" if len(report.utts) > MAX_UTTS_LISTED else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Scoring report: {_esc(report.name)}</title><style>{CSS}</style><script>{ONERROR}</script></head>
<body>
<header><h1>Scoring report: {_esc(report.name)}</h1>
<div class="sub">REF {_esc(report.ref_path)} · HYP {_esc(report.hyp_path)}</div></header>
<main>
<pre id="js-errors" style="display:none;color:#c0392b"></pre>
<section><h2>Summary</h2><div class="cards">{cards_html}</div>
<p class="note"><code>{'<br>'.join(_esc(x) for x in report.kaldi_lines())}</code></p>
<p class="note">Normalisation: {_esc(report.normalization.describe())}. Speakers from:
{_esc(report.speaker_source)}.</p>{warn}</section>
<section><h2>sclite figures (Sum/Avg, %)</h2>
{_table(["", "Snt", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err"], sclite_rows)}
<p class="note">As <code>sclite -i rm -o sum</code>: sclite's alignment (substitution 4, insertion/deletion 3,
ASCII case-insensitive). Its Sub/Del/Ins split can differ from the Kaldi line; the error total is the same
when case agrees.</p></section>
<section><h2>Plots</h2><div class="grid">{plots_html}</div></section>
<section><h2>Per speaker</h2>
{_table(["Speaker", "Snt", "Wrd", "Sub", "Del", "Ins", "Err", "WER %", "S.Err %"], spk_rows)}</section>
<section><h2>Confusions</h2><div class="grid">
<div><h3>Substitutions</h3>{_table(["REF", "HYP", "count"], [[s["ref"], s["hyp"], s["count"]]
                                                         for s in conf["substitutions"]], left=2)}</div>
<div><h3>Deletions</h3>{_table(["word", "count"], [[s["word"], s["count"]] for s in conf["deletions"]])}</div>
<div><h3>Insertions</h3>{_table(["word", "count"], [[s["word"], s["count"]] for s in conf["insertions"]])}</div>
</div></section>
<section><h2>Aligned utterances</h2>
<p><input id="filter" type="search" placeholder="filter by id, speaker or word…">
<label><input id="only-err" type="checkbox"> errors only</label> <span id="shown" class="note"></span></p>
{more}<div id="utts">{''.join(utt_html)}</div></section>
</main>
<script>{SCRIPT}</script>
<script type="application/json" id="summary">{_json_for_script(d['kaldi'])}</script>
</body></html>
"""


def _json_for_script(obj) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")
