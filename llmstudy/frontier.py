"""The accuracy-cost frontier: ``python -m llmstudy.frontier`` (``make frontier``).

For every scheme that has hardware here, its accuracy on the real LLM (``build/accuracy/table8.json``, from
``make accuracy``) against the silicon it needs (``build/synth/report.json``, from ``make synth``: OSU 0.18 um,
the same flow for every unit), per lane of a 16-lane dot-product unit:

* area per lane = the dot-product unit's area / 16 + the activation quantizer's area per element / N, with the
  quantizer (SDR encoder, DMQ quantizer) shared by N = 16 columns that read the same activations (the report's
  convention; INT baselines need none);
* energy per MAC = the unit's power (timed gate-level simulation on real traces where the flow ran it, else
  OpenSTA with real-trace activity) x the clock period / 16, plus the quantizer's share the same way (its power
  per element / N; the encoders run the same timed gate-level simulation).

Schemes and their hardware: QRazor W4A4 / W4A8 on ``dot16_w4a4*`` / ``dot16_w4a8*`` with ``sdr_encoder_*``; DMQ
W4A4 on ``dot16_dmq_w4a4_*`` with ``dmq_encoder_*``; MXFP4 W4A4 (block 32) on ``dot16_mxfp4`` with
``mx_quantizer_bf16_b32``; NVFP4 W4A4 (block 16) on ``dot16_nvfp4`` (with ``nv_quantizer_bf16_b16``, or marked
where it is not built); W8A8 on INT 8x8; W8A16 on INT 16x8 (the smaller of the tree
and merged styles); the reference on the FP16 MAC (one lane; its accuracy is the float32 forward pass, FP16
rounding is not simulated). For g >= 16 the dot-product units of one family are the same circuit (one flag or
scale per cycle); where a g has no unit of its own, its g = 16 unit stands for it (marked). Writes
``build/frontier/frontier.{md,json,png}``; the Pareto front (nothing both cheaper and more accurate) is marked.
"""

import argparse
import json
import math
import sys
from pathlib import Path

from . import settings

__all__ = ["points", "pareto", "report_markdown", "main", "COLUMNS"]

COLUMNS = 16
GROUPS = (8, 16, 32, 64, 128)


def _group(unit):
    """The group (QRazor, DMQ) or block (MXFP4, NVFP4) size a unit was built for."""
    if "fmt" in unit.params:
        from hdl.mx import FORMATS
        return FORMATS[unit.params["fmt"]].block
    return unit.params.get("group_size")


def _candidates():
    """``(scheme, dot-product units (16 lanes) that compute it, its activation quantizer or None)`` from the
    descriptors (``Unit.schemes``), in registry order."""
    from hdl.catalog import units
    dots, quant = {}, {}
    for u in units():
        for s in u.schemes:
            if u.table.per == "element":
                quant[s] = u.name
            else:
                dots.setdefault(s, []).append(u)
    return [(s, us, quant.get(s)) for s, us in dots.items()]


def _scheme(name):
    from .llm import SCHEMES
    return SCHEMES.get(name)


def _needs_quantizer(sch):
    """Whether a scheme's activations are quantized per group or block at run time (a quantizer unit per row)."""
    return sch is not None and sch.acts not in ("float", "a16", "i8")


def _power(r):
    t = r.get("gate_level_timed")
    return (t["power_mw"], "gate-level timed") if t else (r["power_mw"], "OpenSTA")


def points(acc, synth):
    """One point per scheme whose accuracy and hardware are both in the reports."""
    res = acc["results"]
    units = {u["name"]: u for u in synth["units"]}
    clock = synth["meta"].get("clock_ns", 10.0)
    out = []
    for scheme, dots, enc in _candidates():
        if scheme not in res:
            continue
        have = [(u, units[u.name]) for u in dots if u.name in units]
        if not have:
            continue
        g = int(scheme.rsplit(" g", 1)[1]) if " g" in scheme else None
        native = [h for h in have if _group(h[0]) == g]          # a unit of the scheme's own group size first,
        unit, dot = min(native or have, key=lambda h: h[1]["area_um2"])   # then the smaller (INT: tree or merged)
        family = unit.label.split(",")[0]                       # "QRazor W4A4, g=16" -> "QRazor W4A4"
        if enc is not None and enc not in units:
            continue
        lanes = dot.get("per") or 1
        mw, src = _power(dot)
        area = dot["area_um2"] / lanes
        energy = mw * clock / lanes                                  # mW x ns = pJ, per lane and cycle
        q_area = q_energy = 0.0
        if enc is not None:
            e = units[enc]
            per = e.get("per") or 1
            q_area = e["area_um2"] / per / COLUMNS
            q_mw, q_src = _power(e)
            q_energy = q_mw * clock / per / COLUMNS
            src = src if q_src == src else f"{src}; quantizer {q_src}"
        sch = _scheme(scheme)
        out.append(dict(scheme=scheme, family=family, unit=dot["name"], quantizer=enc,
                        weight_bits=sch.effective_bits if sch else None, act_bits=sch.act_bits if sch else None,
                        fmax_mhz=dot.get("fmax_mhz"), quantizer_built=enc is not None or not _needs_quantizer(sch),
                        stand_in=g is not None and _group(unit) != g,
                        perplexity=res[scheme]["perplexity"], last_word_acc=res[scheme].get("last_word_acc"),
                        area_per_lane=area + q_area, quantizer_area_per_lane=q_area,
                        energy_pj_per_mac=energy + q_energy, quantizer_energy_pj=q_energy, power_source=src))
    return out


def _positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def check_reports(acc, synth):
    """The fields ``points`` reads, each checked: a ``ValueError`` names the first bad one (a NaN perplexity would
    land on the Pareto front; a negative area or a zero clock would make nonsense per-lane figures)."""
    if not isinstance(acc, dict) or not isinstance(acc.get("results"), dict):
        raise ValueError("the accuracy report is not an object with 'results' (make accuracy writes one)")
    if not isinstance(synth, dict) or not isinstance(synth.get("units"), list):
        raise ValueError("the synthesis report is not an object with a 'units' list (make synth writes one)")
    for name, r in acc["results"].items():
        if not isinstance(r, dict) or not _positive(r.get("perplexity")):
            raise ValueError(f"scheme {name!r}: perplexity {r.get('perplexity') if isinstance(r, dict) else r!r} "
                             "is not a finite positive number")
    clock = (synth.get("meta") or {}).get("clock_ns", 10.0)
    if not _positive(clock):
        raise ValueError(f"the synthesis report's clock_ns {clock!r} is not a finite positive number")
    for u in synth["units"]:
        if not isinstance(u, dict) or not isinstance(u.get("name"), str):
            raise ValueError(f"a synthesis report row without a name: {str(u)[:80]}")
        for key in ("area_um2", "power_mw"):
            if not _positive(u.get(key)):
                raise ValueError(f"unit {u['name']}: {key} {u.get(key)!r} is not a finite positive number")


def pareto(pts, cost):
    """Names of the points no other point beats on both ``cost`` and perplexity (lower is better for both)."""
    front = set()
    for p in pts:
        if not any(q[cost] <= p[cost] and q["perplexity"] <= p["perplexity"]
                   and (q[cost] < p[cost] or q["perplexity"] < p["perplexity"]) for q in pts):
            front.add(p["scheme"])
    return front


def report_markdown(pts, acc_meta, synth_meta):
    fa, fe = pareto(pts, "area_per_lane"), pareto(pts, "energy_pj_per_mac")
    lines = ["# Accuracy against silicon: the frontier", "",
             f"Accuracy: {acc_meta.get('model', '?')} ({acc_meta.get('reference', '')}), "
             f"{acc_meta.get('eval_tokens', 0):,} tokens of *{acc_meta.get('evaluation', '?')}*. "
             f"Silicon: OSU 0.18 um ({synth_meta.get('liberty', 'osu018')}), "
             f"{synth_meta.get('clock_ns', 10.0):g} ns clock, 16-lane dot-product units, quantizer shared by "
             f"{COLUMNS} columns. `*` a g >= 16 point whose unit is the family's g = 16 circuit.", "",
             "| scheme | bits / weight, act. | hardware | perplexity | last-word acc. | area / lane (um^2) | "
             "of which quantizer | energy / MAC (pJ) | of which quantizer | f_max (MHz) | power from | Pareto (area) | "
             "Pareto (energy) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in sorted(pts, key=lambda p: p["area_per_lane"]):
        acc = "-" if p["last_word_acc"] is None else f"{100 * p['last_word_acc']:.1f} %"
        bits = "-" if p.get("weight_bits") is None else f"{p['weight_bits']:g}, {p['act_bits']:g}"
        q_area = f"{p['quantizer_area_per_lane']:.0f}" if p.get("quantizer_built", True) else "not built"
        q_energy = f"{p['quantizer_energy_pj']:.3f}" if p.get("quantizer_built", True) else "not built"
        fmax = "-" if p.get("fmax_mhz") is None else f"{p['fmax_mhz']:.0f}"
        lines.append(f"| {p['scheme']} | {bits} | {p['unit']}{'*' if p['stand_in'] else ''} | {p['perplexity']:.2f} | "
                     f"{acc} | {p['area_per_lane']:.0f} | {q_area} | {p['energy_pj_per_mac']:.3f} | {q_energy} | "
                     f"{fmax} | {p['power_source']} | {'yes' if p['scheme'] in fa else ''} | "
                     f"{'yes' if p['scheme'] in fe else ''} |")
    missing = [p["scheme"] for p in pts if not p.get("quantizer_built", True)]
    if missing:
        lines += ["", "Without their activation quantizer (no RTL for it yet, so its area and energy are not counted "
                  "and these points are cheaper than their hardware would be): " + ", ".join(missing) + "."]
    for name, front, key, unit in (("area", fa, "area_per_lane", "um^2/lane"),
                                   ("energy", fe, "energy_pj_per_mac", "pJ/MAC")):
        f = sorted((p for p in pts if p["scheme"] in front), key=lambda p: p[key])
        lines += ["", f"Pareto front, perplexity against {name}: "
                  + "; ".join(f"{p['scheme']} ({p[key]:.3g} {unit}, {p['perplexity']:.2f})" for p in f) + "."]
    return "\n".join(lines) + "\n"


def plot(pts, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(dict.fromkeys(p["family"] for p in pts))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, label in ((axes[0], "area_per_lane", "area per lane (um^2, incl. quantizer share)"),
                           (axes[1], "energy_pj_per_mac", "energy per MAC (pJ, incl. quantizer share)")):
        front = pareto(pts, key)
        for i, f in enumerate(fams):
            fp = [p for p in pts if p["family"] == f]
            ax.scatter([p[key] for p in fp], [p["perplexity"] for p in fp], label=f, color=f"C{i}", zorder=3)
            for p in fp:
                tag = p["scheme"].split(" ")[-1] if " g" in p["scheme"] else p["scheme"]
                ax.annotate(tag, (p[key], p["perplexity"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        fr = sorted((p for p in pts if p["scheme"] in front), key=lambda p: p[key])
        ax.step([p[key] for p in fr], [p["perplexity"] for p in fr], where="post", color="k", linewidth=1,
                linestyle="--", label="Pareto front", zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("perplexity (log)")
        ax.grid(True, which="both", linewidth=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    settings.write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def _load(path, what, command):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"frontier: {path} is missing; run `{command}` first ({what})") from None
    except json.JSONDecodeError as e:
        raise SystemExit(f"frontier: {path} is not valid JSON ({e}); rerun `{command}`") from None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m llmstudy.frontier", description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", type=Path, default=settings.build_dir("accuracy", "table8.json"))
    ap.add_argument("--synth", type=Path, default=settings.build_dir("synth", "report.json"))
    ap.add_argument("--out", type=Path, default=settings.build_dir("frontier"))
    args = ap.parse_args(argv)
    try:
        settings.writable_dir(args.out)
    except settings.OutputError as e:
        raise SystemExit(f"frontier: {e}") from None
    acc = _load(args.accuracy, "the accuracy sweep", "make accuracy")
    syn = _load(args.synth, "the synthesis report", "make synth")
    try:
        check_reports(acc, syn)
    except ValueError as e:
        raise SystemExit(f"frontier: {e}") from None
    pts = points(acc, syn)
    if not pts:
        raise SystemExit("frontier: no scheme has both an accuracy result and synthesized hardware; run "
                         "`make accuracy` and `make synth` (or python -m synth --table dot16 --table encoder)")
    md = report_markdown(pts, acc["meta"], syn["meta"])
    fa, fe = pareto(pts, "area_per_lane"), pareto(pts, "energy_pj_per_mac")
    settings.write_atomic(args.out / "frontier.md", md)
    settings.write_atomic(args.out / "frontier.json", json.dumps(
        dict(points=pts, pareto_area=sorted(fa), pareto_energy=sorted(fe)), indent=1))
    plot(pts, args.out / "frontier.png")
    print(md)
    print(f"frontier: wrote {args.out / 'frontier.md'}, frontier.json, frontier.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
