"""What the cocotb benches share: saving their counts and ending the test on the verdict."""

import numpy as np


def finish(dut, meta, checked, shown, failure, what, info, **counts):
    """Save ``counts`` (with ``checked`` and the ``shown`` first mismatches) to ``results.npz``, log the shown
    mismatches, then fail with ``failure`` (if any) or when nothing was ``checked`` (of ``what``), else log ``info``."""
    np.savez(meta["dir"] / "results.npz", checked=checked, first=np.array(shown, dtype=str), **counts)
    for line in shown:
        dut._log.error(line)
    if failure:
        raise AssertionError(f"{meta['unit']}: {failure}; first: {shown[:1]}")
    if checked == 0:
        raise AssertionError(f"checked zero {what}")
    dut._log.info(f"{meta['unit']}: {info}")
