"""The deployment table: accuracy and int8 figures from the weights entries, latency from the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import zoo
from tools.latency import table
from zoo.hub import list_weights


def _results(model: str) -> dict:
    rows = [
        {"extra_info": {"model": model, "runtime": r}, "stats": {"median": m, "q1": m * 0.9, "q3": m * 1.2}}
        for r, m in zip(table.RUNTIMES, (4e-4, 1e-4, 9e-5))
    ]
    return {"machine_info": {"cpu": {"brand_raw": "Test CPU"}}, "benchmarks": rows}


def test_a_row_holds_the_entrys_accuracies_the_footprint_and_each_runtimes_median():
    text = table.table(_results("tiny-4k"))
    meta = zoo.get_weights("tiny-4k").meta
    row = next(line for line in text.splitlines() if line.startswith("| tiny-4k |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{meta['test_accuracy']:.2%}" and cells[3] == f"{meta['int8']['test_accuracy']:.2%}"
    assert cells[7:] == ["400 (120)", "100 (30)", "90 (27)"] and "on Test CPU" in text


def test_the_header_names_the_cpus_int8_instructions():
    results = {**_results("tiny-4k"), "machine_info": {"cpu": {"brand_raw": "AMD EPYC", "flags": ["avx", "avx2"]}}}
    assert "on AMD EPYC (AVX2, no VNNI)." in table.table(results)
    assert table.int8_isa(["avx2", "avx512f", "avx512_vnni"]) == " (AVX-512 VNNI)"
    assert table.int8_isa(["avx2", "avx512f"]) == " (AVX-512, no VNNI)"
    assert table.int8_isa(["neon"]) == ""


def test_the_readme_section_is_rewritten_and_a_readme_without_it_is_one_line(tmp_path, capsys):
    path = tmp_path / "latency.json"
    path.write_text(json.dumps(_results("gapnet")))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{table.START}\nold\n{table.END}\noutro\n")
    assert table.main([str(path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and "| gapnet | 18,562 |" in text and text.endswith("outro\n")
    readme.write_text("no markers\n")
    assert table.main([str(path), "--readme", str(readme)]) == 2
    assert "has no <!-- zoo:latency:start -->" in capsys.readouterr().err


def test_the_committed_table_lists_every_int8_model_with_its_published_figures():
    """Republishing a model's weights leaves the table behind until `nox -s latency` runs again."""
    page = (Path(__file__).parents[1] / "docs" / "weights.md").read_text()
    section = page[page.index(table.START) : page.index(table.END)]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    committed = {cells[0]: cells[1:7] for cells in rows[1:]}  # rows[0] is the header
    int8 = sorted(n for n in list_weights() if "int8" in zoo.get_weights(n).meta)
    assert sorted(committed) == int8, "docs/weights.md's latency table is stale: run `nox -s latency`"
    for name in int8:
        assert committed[name] == table.entry_cells(name), f"{name}'s latency row is stale: run `nox -s latency`"
