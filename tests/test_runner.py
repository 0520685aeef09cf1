"""The flows' runner (synth.runner): cache keys and entries, scheduling, errors, progress lines."""

import io
import json
import threading
import time

import pytest

from synth.runner import Cache, OutputError, Progress, clock, digest, file_digest, run, writable_dir


def test_digest_is_canonical_and_sensitive():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest({"a": 1}) != digest({"a": 2}) != digest({"a": 1}, "x")


def test_file_digest_follows_the_bytes(tmp_path):
    f = tmp_path / "lib"
    f.write_text("cells")
    a = file_digest(f)
    time.sleep(0.01)
    f.write_text("cellz")
    assert file_digest(f) != a


def test_cache_round_trip_and_damaged_entries(tmp_path, capsys):
    c = Cache(tmp_path / "c")
    assert c.get("u", "k1") is None
    c.put("u", "k1", {"area": 1.5})
    assert c.get("u", "k1") == {"area": 1.5} and c.get("u", "k2") is None
    path = next((tmp_path / "c").glob("u.*.json"))
    path.write_text(json.dumps({"key": "other", "item": "u", "result": {}}))
    assert c.get("u", "k1") is None and "unreadable" in capsys.readouterr().err and not path.exists()
    c.record_timings({"u": 3.14159})
    c.record_timings({"v": 2})
    assert c.timings() == {"u": 3.1, "v": 2.0}


def test_run_orders_longest_first_and_returns_every_result():
    started = []

    def work(name):
        started.append(name)
        return name.upper(), name == "b", 0.0
    p = Progress("t", ["a", "b", "c", "d"], 1, {"a": 1.0, "b": 5.0, "c": 3.0}, stream=io.StringIO(), heartbeat=0)
    out = run(["a", "b", "c", "d"], work, 1, p, pool="inline")
    assert out == {"a": "A", "b": "B", "c": "C", "d": "D"}
    assert started == ["d", "b", "c", "a"]               # unknown first, then by the last measured time
    assert p.cached == 1 and set(p.measured) == {"a", "c", "d"}


def test_run_in_threads_finishes_the_running_items_then_raises():
    finished = []
    lock = threading.Lock()

    def work(name):
        if name == "bad":
            raise RuntimeError("tool failed on bad")
        time.sleep(0.3)
        with lock:
            finished.append(name)
        return name, False, 0.3
    log = io.StringIO()
    p = Progress("t", ["bad", "slow", "never"], 2, {"bad": 9, "slow": 8, "never": 1}, stream=log, heartbeat=0)
    with pytest.raises(RuntimeError, match="tool failed on bad"):
        run(["bad", "slow", "never"], work, 2, p, pool="thread")
    assert finished == ["slow"]                          # it ran beside the failing one; "never" never started
    assert "bad FAILED: tool failed on bad" in log.getvalue()
    with pytest.raises(ValueError, match="pool must be"):
        run(["a"], work, 1, pool="fork")


def test_progress_lines_read_in_a_log():
    log, recorded = io.StringIO(), []
    p = Progress("synth", ["a", "b", "c"], 2, {"a": 60, "b": 30}, stream=log, heartbeat=0, record=recorded.append)
    assert p.left() is None                              # "c" has no estimate and nothing is measured yet
    p.started("a")
    p.started("b")
    p.finished("b", 31.0)
    line = log.getvalue().splitlines()[-1]
    assert line.startswith("synth [1/3] b: 31s | running: a 0s | elapsed 0s, about ")
    assert "\r" not in log.getvalue()
    p.finished("a", 0.0, cached=True)
    assert recorded == [{"b": 31.0}]                     # computed items only, as they finish
    p.close()
    assert log.getvalue().splitlines()[-1].startswith("synth 2/3 done in 0s (1 from the cache)")
    assert clock(75) == "1m15s" and clock(3700) == "1h01m" and clock(5) == "5s"


def test_writable_dir_names_the_problem(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(OutputError, match="is a file"):
        writable_dir(f)
    with pytest.raises(OutputError, match="cannot write"):
        writable_dir(f / "sub")
    assert writable_dir(tmp_path / "new" / "dir").is_dir()
