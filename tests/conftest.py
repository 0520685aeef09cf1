import os

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def trace_set():
    """The real-LLM trace set: ``QR_TRACE`` if set, else the default set ``make traces`` writes (tests that use
    it are marked ``trace``; ``make test-golden`` deselects them)."""
    from llmstudy import traces
    return traces.load(os.environ.get("QR_TRACE") or None)
