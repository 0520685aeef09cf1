"""The paper's data analysis (Figure 2) on real traces: ``python -m llmstudy.analysis [--trace FILE]``.

For activations (linear-layer inputs, A16), weights (W8), and query, key, value (KV8), at g = 16 and 32:
the distribution of each group's leading-one position before compression (the razoring point, from the OR
of the group's magnitudes), the share of groups whose leading one is at bit 12 or above (0-based; "above
the 12th bit" counting from 1, as the paper does), and the share of zero elements before and after
compression. Groups lie along the reduction axis, as in the RTL and the accuracy study.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from golden import sdr

from . import settings, traces

__all__ = ["KIND_LABEL", "group_stats", "analyse", "report_markdown", "main"]

GROUPS = (16, 32)
KIND_LABEL = {"input": "activation", "weight": "weight", "query": "query", "key": "key", "value": "value"}
FMT = {"input": sdr.A16_K4, "weight": sdr.W8_K4, "query": sdr.KV8_K4, "key": sdr.KV8_K4, "value": sdr.KV8_K4}
HIGH_BIT = 12


def _axis(kind):
    return 1 if kind == "weight" else -1


def group_stats(data, fmt, axis):
    """Leading-one histogram (index -1..15, -1 = all-zero group), groups, zeros before/after, elements."""
    x = np.asarray(data)
    t = sdr.compress(x, fmt, axis)
    mags = np.minimum(np.abs(np.moveaxis(x, axis, -1).astype(np.int32)), fmt.max_mag)
    ors = np.bitwise_or.reduce(mags.reshape(*mags.shape[:-1], -1, fmt.group_size), axis=-1)
    lead = sdr.leading_one(ors).ravel()
    hist = np.bincount(lead.astype(np.int64) + 1, minlength=17)
    return dict(hist=hist, groups=int(lead.size), high=int((lead >= HIGH_BIT).sum()),
                zero_before=int((x == 0).sum()), zero_after=int((t.codes == 0).sum()), elements=int(x.size))


def analyse(ts, groups=GROUPS):
    """``{kind: {g: stats}}`` summed over every tensor of that kind in the trace set."""
    out = {}
    for kind, label in KIND_LABEL.items():
        tensors = ts.select(kind=kind)
        if not tensors:
            continue
        out[label] = {}
        for g in groups:
            fmt = FMT[kind].with_group(g)
            acc = None
            for t in tensors:
                s = group_stats(t.data, fmt, _axis(kind))
                acc = s if acc is None else {k: acc[k] + s[k] for k in acc}
            acc["base_bits"] = fmt.base_bits
            out[label][g] = acc
    return out


def _pct(a, b):
    return 100.0 * a / b if b else float("nan")


def summary(stats):
    """JSON-friendly figures: shares in percent, histograms as lists."""
    res = {}
    for label, per_g in stats.items():
        res[label] = {}
        for g, s in per_g.items():
            res[label][str(g)] = dict(
                groups=s["groups"], elements=s["elements"], base_bits=s["base_bits"],
                leading_one_hist=[int(v) for v in s["hist"]],
                pct_groups_lead_ge_12=_pct(s["high"], s["groups"]),
                pct_zero_before=_pct(s["zero_before"], s["elements"]),
                pct_zero_after=_pct(s["zero_after"], s["elements"]))
    return res


def report_markdown(summ, meta):
    lines = ["# Figure 2 on real traces", "",
             f"Model: {meta.get('model')}; text: {meta.get('text_source')}; traced window: "
             f"{meta.get('tokens')} tokens of *{meta.get('evaluation_text')}*; layers {meta.get('layers')}; "
             f"scales calibrated on {meta.get('calibration_tokens')} tokens of *{meta.get('calibration_text')}*.",
             "", "Groups along the reduction axis. Leading one = index (0-based) of the leading one of the OR of "
             "the group's magnitudes, before compression. Paper (LLaMA): activations' leading ones mostly at bits "
             "8-12, about 9 % of groups above bit 12; zeroed elements rise after compression, most for activations "
             "and weights, little for Q, K, V.", "",
             "| tensor | g | groups | leading one >= bit 12 | most common leading one | zero before | zero after |",
             "|---|---|---|---|---|---|---|"]
    for label, per_g in summ.items():
        for g, s in per_g.items():
            hist = np.asarray(s["leading_one_hist"])
            mode = int(np.argmax(hist)) - 1
            high = f"{s['pct_groups_lead_ge_12']:.2f} %" if s["base_bits"] > HIGH_BIT else "n/a (8-bit)"
            lines.append(f"| {label} | {g} | {s['groups']:,} | {high} | bit {mode} | "
                         f"{s['pct_zero_before']:.2f} % | {s['pct_zero_after']:.2f} % |")
    lines += ["", "Leading-one distribution (percent of groups per bit index, g = 16):", "",
              "| tensor | " + " | ".join(str(i) for i in range(16)) + " |", "|---|" + "---|" * 16]
    for label, per_g in summ.items():
        h = np.asarray(per_g["16"]["leading_one_hist"], dtype=np.float64)
        pct = 100 * h / h.sum()
        lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in pct[1:]) + " |")
    return "\n".join(lines) + "\n"


def plot(summ, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    bits = np.arange(16)
    for ax, labels, title in ((axes[0], ("activation", "query"), "(a) activation and query"),
                              (axes[1], ("key", "value", "weight"), "(b) key, value, weight")):
        width = 0.8 / len(labels)
        for i, label in enumerate(labels):
            if label not in summ:
                continue
            h = np.asarray(summ[label]["16"]["leading_one_hist"], dtype=np.float64)[1:]
            ax.bar(bits + i * width, 100 * h / max(h.sum(), 1), width, label=label)
        ax.set_xlabel("leading-one bit index of the group (g = 16)")
        ax.set_ylabel("% of groups")
        ax.set_title(title)
        ax.set_xticks(bits)
        ax.legend()
    labels = list(summ)
    x = np.arange(len(labels))
    for i, (key, name) in enumerate((("pct_zero_before", "before"), ("pct_zero_after", "after, g=16"))):
        axes[2].bar(x + i * 0.27, [summ[lb]["16"][key] for lb in labels], 0.27, label=name)
    axes[2].bar(x + 2 * 0.27, [summ[lb]["32"]["pct_zero_after"] for lb in labels], 0.27, label="after, g=32")
    axes[2].set_xticks(x + 0.27)
    axes[2].set_xticklabels(labels)
    axes[2].set_ylabel("% zero elements")
    axes[2].set_title("(c) zero elements before / after 4-bit compression")
    axes[2].legend()
    fig.tight_layout()
    settings.write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.analysis", description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, help="trace file (default: build/traces/full.npz if present, "
                                               "else build/traces/default.npz)")
    ap.add_argument("--out", type=Path, default=settings.build_dir("analysis"))
    args = ap.parse_args(argv)
    try:
        settings.writable_dir(args.out)               # checked before the trace is read
    except settings.OutputError as e:
        sys.exit(f"analysis: {e}")
    trace = args.trace
    if trace is None:
        full = settings.full_trace()
        trace = full if full.is_file() else settings.default_trace()
    try:
        ts = traces.load(trace)
    except traces.TraceError as e:
        sys.exit(f"analysis: {e}")
    summ = summary(analyse(ts))
    settings.write_atomic(args.out / "figure2.md", report_markdown(summ, ts.meta))
    settings.write_atomic(args.out / "figure2.json", json.dumps(dict(meta=ts.meta, stats=summ), indent=1))
    plot(summ, args.out / "figure2.png")
    print(report_markdown(summ, ts.meta))
    print(f"analysis: wrote {args.out / 'figure2.md'}, figure2.json, figure2.png from {trace.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
