# amaranth: UnusedElaboratable=no
"""``make tile-steps`` (``synth.tile_steps``): its last step is the registered tile, its first the first tile, and
its report says what each step changed."""

import dataclasses

from hdl.catalog import get
from hdl.export import to_verilog
from synth import tile_steps


def test_last_step_is_the_registered_tile_and_first_is_the_first():
    name = "tile2x2_w4a4"
    last = tile_steps._params(name, len(tile_steps.STEPS) - 1)
    unit = get(name)
    def body(u):                                        # the header comment lists the parameters as given
        return [x for x in to_verilog(u).splitlines() if not x.startswith("//")]
    assert body(dataclasses.replace(unit, params=last)) == body(unit)
    first = tile_steps._params(name, 0)
    assert (first["buffer"], first["acc_split"], first["retime"], first["reset_data"]) == ("select", 0, False, True)


def test_report_names_each_change_against_the_step_before():
    rows = [dict(tile="t", kind="step", label="a", area_um2=100.0, per_lane_um2=1.0, fmax_mhz=100.0,
                 tops_per_mm2=0.05),
            dict(tile="t", kind="step", label="b", area_um2=110.0, per_lane_um2=1.1, fmax_mhz=150.0,
                 tops_per_mm2=0.07)]
    rows.append(dict(rows[1], kind="variant", label="c", area_um2=99.0, against=rows[1]))
    md = tile_steps.report_markdown(rows, dict(date="2026-12-04", clock_ns=10.0))
    lines = [x for x in md.splitlines() if x.startswith("| t ")]
    assert lines[0].endswith("| - |")
    assert "area +10.0 %, f_max +50.0 %, TOPS/mm^2 +40.0 %" in lines[1]
    assert "variant: c" in lines[2] and "area -10.0 %, f_max +0.0 %" in lines[2]
