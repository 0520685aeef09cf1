# amaranth: UnusedElaboratable=no
"""Export for other flows: any unit from parameters, the flow files beside each Verilog file, and a FuseSoC core
that FuseSoC (through edalize) builds with Icarus."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hdl.export import build_custom, export, export_custom, to_verilog
from hdl.unit import UnitError


def _body(text):
    return text.split("\n", 3)[3]                  # after the three header comment lines


def test_custom_unit_equals_the_registered_one(tmp_path):
    paths = export_custom(tmp_path, "dot", {"lanes": 16, "group_size": 8}, name="dot16_w4a4_g8")
    assert [p.suffix for p in paths] == [".v", ".sdc", ".f", ".core"]
    assert _body(paths[0].read_text()) == _body(to_verilog("dot16_w4a4_g8"))


@pytest.mark.parametrize("kind,params,msg", [
    ("nope", {}, "unknown component kind 'nope'; known: mac_dfree, mac_conv, .*, dmq_encoder, dot_dmq, dot_mx, "
                 "mx_quantizer, nv_quantizer, tile, tile_int"),
    ("dot", {"lane": 8}, r"dot \(DotProductUnit\) has no parameter\(s\) \['lane'\]; accepted: lanes, group_size"),
    ("dot", {"lanes": 12}, r"dot \(DotProductUnit\): lanes must be a power of two in \[1, 64\], not 12"),
    ("tile", {"rows": 0}, r"tile \(GemmTile\): rows must be in \[1, 16\], not 0"),
    ("encoder", {"kept_bits": 9}, r"encoder \(SDREncoder\): kept_bits must be in \[2, 8\], not 9"),
])
def test_custom_parameter_errors(kind, params, msg):
    with pytest.raises(UnitError, match=msg):
        build_custom(kind, params)


def test_custom_name_and_cli_errors(tmp_path, capsys):
    from hdl.export import main
    with pytest.raises(UnitError, match="module name '9x' is not a Verilog identifier"):
        export_custom(tmp_path, "dot", {}, name="9x")
    with pytest.raises(SystemExit, match="export: parameter 'lanes' is not KEY=VALUE"):
        main(["--custom", "dot", "--out", str(tmp_path), "lanes"])
    assert list(tmp_path.iterdir()) == []           # nothing written before the parameters are checked


def test_sdc_and_core_name_the_clock_and_top(tmp_path):
    export(tmp_path, ["mac_dfree_w4a4", "sdr_encoder_a16k4_g8"])
    assert "create_clock -name clk -period 10 [get_ports clk]" in (tmp_path / "mac_dfree_w4a4.sdc").read_text()
    assert "[get_ports clk]" not in (tmp_path / "sdr_encoder_a16k4_g8.sdc").read_text()   # combinational
    core = (tmp_path / "mac_dfree_w4a4.core").read_text()
    assert core.startswith("CAPI=2:\nname: qrazor:hw:mac_dfree_w4a4:0.1.0") and "toplevel: mac_dfree_w4a4" in core
    assert (tmp_path / "mac_dfree_w4a4.f").read_text() == "mac_dfree_w4a4.v\n"


def _fusesoc(cores, name, cwd):
    exe = Path(sys.executable).parent / "fusesoc"
    return subprocess.run([str(exe if exe.exists() else "fusesoc"), "--cores-root", str(cores), "run", "--target",
                           "sim", "--build", f"qrazor:hw:{name}"], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.tools
def test_fusesoc_builds_the_exported_core_with_icarus(tmp_path):
    if shutil.which("iverilog") is None:
        pytest.fail("iverilog not found; run make setup")
    export(tmp_path / "cores", ["mac_dfree_w4a4"])
    export_custom(tmp_path / "cores", "tile", {"rows": 2, "cols": 2, "lanes": 4}, name="tile2x2")
    for name in ("mac_dfree_w4a4", "tile2x2"):
        r = _fusesoc(tmp_path / "cores", name, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (tmp_path / "build" / f"qrazor_hw_{name}_0.1.0" / "sim-icarus" / f"qrazor_hw_{name}_0.1.0").is_file()
    # the build is live: a core whose Verilog does not compile fails
    v = tmp_path / "cores" / "tile2x2.v"
    v.write_text(v.read_text().replace("endmodule", "endmodul", 1))
    assert _fusesoc(tmp_path / "cores", "tile2x2", tmp_path).returncode != 0


def test_custom_kinds_are_the_families_kinds(tmp_path):
    """--custom builds every kind the unit families declare (hdl.catalog.KINDS), the DMQ units included."""
    from hdl.catalog import KINDS
    assert {"dot", "encoder", "tile", "dmq_encoder", "dot_dmq"} <= set(KINDS)
    paths = export_custom(tmp_path, "dmq_encoder", {"group_size": 8}, name="dmq8")
    assert "module dmq8" in paths[0].read_text()
