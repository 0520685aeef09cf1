"""The synthesis report's computed figures, on hand-made results (no tools needed)."""

import pytest

from hdl.unit import get
from synth.report import ratio_rows, shared_encoder_rows


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
