"""The synthesis report's computed figures, on hand-made results (no tools needed)."""

import pytest

from hdl.catalog import get
from synth.report import ratio_rows, shared_encoder_rows, throughput_rows


def _res(name, area, power=1.0):
    u = get(name)
    return {"name": name, "label": u.label, "per": u.per, "area_um2": area, "power_mw": power, "parts": {}}


def test_ratios_take_the_smaller_of_alternative_baselines():
    rows = [_res("dot16_w4a4", 1600), _res("dot16_int16x8", 16000), _res("dot16_int16x8_merged", 8000),
            _res("dot16_int8x8", 4000), _res("dot16_int8x8_merged", 6400)]
    got = {(r[0], r[1]): r[2] for r in ratio_rows(get("dot16_w4a4").table, rows)}
    assert got == {("QRazor W4A4, g=16", "INT 16x8, merged"): 0.2, ("QRazor W4A4, g=16", "INT 8x8, tree"): 0.4}


def test_shared_encoder_is_charged_per_element_and_divided_by_columns():
    # a 16-lane unit of 1600 um^2 (100 per lane) fed by a g = 128 encoder of 12800 um^2 (100 per element)
    rows = [_res("dot16_w4a4_g128", 1600)]
    (row,) = shared_encoder_rows(get("dot16_w4a4_g128").table, rows, rows + [_res("sdr_encoder_a16k4_g128", 12800)],
                                 columns=(1, 4))
    assert row[3] == pytest.approx([100 + 100, 100 + 25])


def test_throughput_counts_two_operations_per_mac():
    # 256 MACs at 125 MHz on 1 mm^2: 64 GOPS, 0.064 TOPS/mm^2; at a 10 ns clock 51.2 GOPS in 512 mW: 0.1 TOPS/W
    r = dict(_res("tile4x4_w4a4", 1e6, power=512.0), fmax_mhz=125.0)
    (row,) = throughput_rows([r], clock_ns=10.0)
    assert row[1] == 256 and row[3] == pytest.approx(64.0) and row[4] == pytest.approx(0.064)
    assert row[5] == pytest.approx(0.1) and row[6] == "OpenSTA"
    r["gate_level_timed"] = {"power_mw": 256.0}
    assert throughput_rows([r], clock_ns=10.0)[0][5:] == (pytest.approx(0.2), "gate-level timed")


def test_merge_keeps_other_units_of_a_comparable_report(tmp_path):
    import argparse
    import json

    from synth.__main__ import _kept_results
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"meta": {"liberty": "cells.lib", "clock_ns": 10.0},
                                "units": [{"name": "a"}, {"name": "b"}]}))
    args = argparse.Namespace(liberty="cells.lib", clock_ns=10.0)
    assert _kept_results(path, args, {"a"}) == [{"name": "b"}]
    assert _kept_results(tmp_path / "none.json", args, {"a"}) == []
    with pytest.raises(SystemExit, match="made with cells.lib at 10.0 ns, this run uses cells.lib at 5.0 ns"):
        _kept_results(path, argparse.Namespace(liberty="cells.lib", clock_ns=5.0), {"a"})
    path.write_text("{")
    with pytest.raises(SystemExit, match="--merge: cannot read"):
        _kept_results(path, args, {"a"})
