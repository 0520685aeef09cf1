"""The accuracy experiment (paper Table 8, with Tables 4 and 9's configurations): ``python -m llmstudy.accuracy``.

Perplexity of the real LLM on held-out text under every scheme of ``llmstudy.llm.SCHEMES``: float, the base
precisions W8A16 and W8A16KV8, QRazor W4A4 / W4A8 / W4A4KV4 / W4A8KV4 at g = 8..128, and RTN INT4 with an FP16
scale per group of 128 (W4A4, W4A4KV4; 4.125 effective bits, the same as QRazor g = 32). Writes
``build/accuracy/table8.{md,json,png}``.
"""

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from golden.sdr import GROUP_SIZES

from . import llm, settings

__all__ = ["sweep", "report_markdown", "trends", "main"]

GROUPS = GROUP_SIZES
FAMILIES = ("W4A4", "W4A8", "W4A4KV4", "W4A8KV4")
# Paper Table 8 (LLaMA-2-7B, LAMBADA): reported for the trend only, a different model and text.
PAPER_TREND = ("perplexity grows with g; W4A8 is better than W4A4; KV4 costs a little more; g = 128 degrades "
               "sharply for W4A4KV4")


def sweep(schemes, windows=8, seq_len=1024, cal_windows=8, cal_len=512, model_path=None, progress=True):
    """Perplexity for each scheme name; also returns the run's metadata."""
    model, tok, name = llm.load_model(model_path)
    qm = llm.QuantizedModel(model)
    cal = llm.text_windows(tok, "calibration", cal_len, cal_windows)
    ev = llm.text_windows(tok, "evaluation", seq_len, windows)
    with tqdm(total=cal_windows + windows * len(schemes), desc="perplexity", unit="fwd", disable=not progress) as bar:
        bar.set_postfix_str("calibrating")
        qm.calibrate(cal, bar)
        results = {}
        for s in schemes:
            bar.set_postfix_str(s)
            results[s] = llm.perplexity(qm, ev, llm.scheme(s), bar)
    meta = dict(model=name, **llm.describe_text(), eval_tokens=int(ev.size), seq_len=seq_len, windows=windows,
                calibration_tokens=int(cal.size))
    return results, meta


def _get(res, fam, g):
    return res.get(f"{fam} g{g}")


def trends(res):
    """The paper's trends, checked on our numbers (only where the needed schemes were run)."""
    out = []
    for fam in FAMILIES:
        vals = [_get(res, fam, g) for g in GROUPS]
        if all(v is not None for v in vals):
            mono = all(a <= b for a, b in zip(vals, vals[1:]))
            out.append(f"{fam}: perplexity {'grows monotonically' if mono else 'does not grow monotonically'} with g "
                       f"({vals[0]:.2f} at g=8 to {vals[-1]:.2f} at g=128).")
    for kv in ("", "KV4"):
        pairs = [(_get(res, f"W4A4{kv}", g), _get(res, f"W4A8{kv}", g)) for g in GROUPS]
        pairs = [p for p in pairs if None not in p]
        if pairs:
            better = sum(b < a for a, b in pairs)
            out.append(f"W4A8{kv} is better than W4A4{kv} at {better} of {len(pairs)} group sizes.")
    for a in ("4", "8"):
        pairs = [(_get(res, f"W4A{a}", g), _get(res, f"W4A{a}KV4", g), g) for g in GROUPS]
        pairs = [p for p in pairs if None not in p[:2]]
        if pairs:
            cost = ", ".join(f"g{g} {100 * (k / b - 1):+.1f} %" for b, k, g in pairs)
            out.append(f"KV4 on top of W4A{a} changes perplexity by: {cost}.")
    for kv in ("", "KV4"):
        q, r = res.get(f"W4A4{kv} g32"), res.get(f"RTN W4A4{kv} g128")
        if q is not None and r is not None:
            out.append(f"At 4.125 effective bits, QRazor W4A4{kv} g32 gives {q:.2f}, RTN INT4 W4A4{kv} g128 gives "
                       f"{r:.2f} ({'QRazor better' if q < r else 'RTN better'}).")
    return out


def report_markdown(res, meta):
    lines = ["# Perplexity (paper Table 8) on a real LLM", "",
             f"Model: {meta['model']}; evaluation: {meta['eval_tokens']:,} tokens of *{meta['evaluation']}* in "
             f"{meta['windows']} windows of {meta['seq_len']}; static scales calibrated on "
             f"{meta['calibration_tokens']:,} tokens of *{meta['calibration']}* ({meta['source']}).", ""]
    base = [s for s in res if " g" not in s or s.startswith("RTN")]
    lines += ["| scheme | effective weight bits | perplexity |", "|---|---|---|"]
    for s in base:
        lines.append(f"| {s} | {llm.scheme(s).effective_bits:g} | {res[s]:.3f} |")
    fams = [f for f in FAMILIES if any(_get(res, f, g) is not None for g in GROUPS)]
    if fams:
        lines += ["", "QRazor, by group size:", "",
                  "| scheme | " + " | ".join(f"g{g} ({llm.scheme(f'W4A4 g{g}').effective_bits:g} b)" for g in GROUPS)
                  + " |", "|---|" + "---|" * len(GROUPS)]
        for f in fams:
            cells = [f"{v:.3f}" if (v := _get(res, f, g)) is not None else "-" for g in GROUPS]
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += ["", f"Paper's trend (LLaMA-2, LAMBADA): {PAPER_TREND}.", "", "Ours:", ""]
    lines += [f"- {t}" for t in trends(res)]
    return "\n".join(lines) + "\n"


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for f in FAMILIES:
        pts = [(g, _get(res, f, g)) for g in GROUPS if _get(res, f, g) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"QRazor {f}")
    for s, style in (("float", "k-"), ("W8A16KV8", "k--")):
        if s in res:
            ax.axhline(res[s], color="k", linestyle=style[1:], linewidth=1, label=s)
    for s, m in (("RTN W4A4 g128", "s"), ("RTN W4A4KV4 g128", "^")):
        if s in res:
            ax.plot([32], [res[s]], marker=m, linestyle="none", color="gray", label=f"{s} (4.125 b, at g32)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(GROUPS)
    ax.set_xticklabels([str(g) for g in GROUPS])
    ax.set_xlabel("SDR group size g")
    ax.set_ylabel("perplexity (log)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    settings.write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.accuracy", description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=8, help="evaluation windows (default 8)")
    ap.add_argument("--seq-len", type=int, default=1024, help="tokens per window (default 1024)")
    ap.add_argument("--schemes", nargs="+", default=list(llm.SCHEMES), metavar="NAME",
                    help="scheme names (default: all of llmstudy.llm.SCHEMES)")
    ap.add_argument("--model", type=Path, help="a .gguf file or transformers checkpoint folder")
    ap.add_argument("--out", type=Path, default=settings.build_dir("accuracy"))
    args = ap.parse_args(argv)
    for s in args.schemes:
        try:
            llm.scheme(s)
        except ValueError as e:
            ap.error(str(e))
    if args.model is not None and not args.model.exists():
        ap.error(f"--model {args.model}: no such file or folder")
    if args.windows < 1 or args.seq_len < 2:
        ap.error(f"need at least 1 window of at least 2 tokens, not {args.windows} x {args.seq_len}")
    res, meta = sweep(args.schemes, args.windows, args.seq_len, model_path=args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    md = report_markdown(res, meta)
    settings.write_atomic(args.out / "table8.md", md)
    settings.write_atomic(args.out / "table8.json", json.dumps(dict(meta=meta, perplexity=res), indent=1))
    plot(res, args.out / "table8.png")
    print(md)
    print(f"accuracy: wrote {args.out / 'table8.md'}, table8.json, table8.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
