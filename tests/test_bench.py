"""`make bench` runs on a clone (bundled samples only) and keeps bench/RESULTS.md's latest-run section."""

from __future__ import annotations

import pytest

from tests.conftest import bench_module


@pytest.fixture(scope="module")
def bench():
    return bench_module("engine")


def test_bench_inputs_are_the_bundled_samples(bench):
    edits = bench.edits()
    assert list(edits) == ["remove", "move", "3-layer"]
    stack, plan = edits["3-layer"]
    assert stack.image.shape == (512, 512, 3) and stack.objects["boy"][0].sum() > 10_000
    assert sorted(key for _, key in stack.foreign) == ["apple", "pikachu"]
    assert all(obj.masks[0].any() for obj in stack.foreign.values())
    assert [op.op for op in plan.operations] == ["move", "insert", "insert"]


def test_record_replaces_only_the_latest_run_section(bench, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmarks\n\nNotes kept by hand.\n")
    bench.record("## Latest run\n\n| a |\n", results)
    bench.record("## Latest run\n\n| b |\n", results)
    text = results.read_text()
    assert text.startswith("# Benchmarks\n\nNotes kept by hand.\n\n")
    assert "| b |" in text and "| a |" not in text
    assert text.count(bench.BEGIN) == 1 and text.count(bench.END) == 1
    assert not list(tmp_path.glob("*.tmp"))
