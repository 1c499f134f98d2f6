"""The speed tables read `nox -s speed`'s JSON: ratios follow the figures, each seed and model gets a row,
the machine is named, and `--page` rewrites exactly the marked sections."""

from __future__ import annotations

import json

from tools.speed.table import main, table, throughput


def _bench(name: str, mean: float, **extra) -> dict:
    return {"name": name, "stats": {"mean": mean}, "extra_info": extra}


def _throughput(model: str, processes: int, rate: float, precision: str = "bf16") -> dict:
    facts = {"model": model, "processes": processes, "threads": 1 if processes > 1 else 2, "precision": precision}
    facts.update(batch_size=128, steps=30, images_per_s=rate, train_seconds=1.0)
    return _bench(f"test_training_throughput[{model}-{processes}proc]", 5.0, **facts)


def _results(processes: int = 1) -> dict:
    seed = _bench("test_seed_pipeline", 30.0, images_per_s=800.0, batches=300, projected_19_epochs_s=1200.0, cores=2)
    runs = [
        _bench(
            f"test_zoo_train_gapnet[{s}]",
            250.0,
            seed=s,
            processes=processes,
            epochs=9,
            train_seconds=200.0,
            images_per_s=2000.0,
            test_accuracy=acc,
            val_accuracy=0.993,
        )
        for s, acc in enumerate((0.994, 0.995, 0.996))
    ]
    models = [_throughput("gapnet", 1, 2000.0), _throughput("gapnet", 2, 3000.0), _throughput("tiny-4k", 1, 1500.0)]
    return {"machine_info": {"cpu": {"brand_raw": "Some CPU"}}, "benchmarks": [seed, *runs, *models]}


def test_table_gives_both_ratios_every_seed_and_the_machine():
    text = table(_results())
    assert "**6.0x** less" in text and "(4.8x less)" in text  # 1200/200 training, 1200/250 whole call
    assert "99.50% ± 0.10" in text
    assert all(f"--seed {s}`, one process (9 epochs)" in text for s in (0, 1, 2))
    assert "One sitting on Some CPU, 2 cores" in text


def test_table_names_the_ranks_of_the_layout():
    assert table(_results(processes=2)).count(", 2 ranks (9 epochs)") == 3


def test_throughput_sets_one_process_beside_the_ranks_and_before():
    before = {"benchmarks": [_throughput("gapnet", 1, 1000.0, "fp32")]}
    text = throughput(_results(), before)
    gapnet = next(line for line in text.splitlines() if line.startswith("| gapnet |"))
    assert gapnet == "| gapnet | 128 | bf16 | 2,000 | 2 ranks: 3,000 | 1.50x | 1,000 (fp32) | 2.00x |"
    tiny = next(line for line in text.splitlines() if line.startswith("| tiny-4k |"))
    assert tiny == "| tiny-4k | 128 | bf16 | 1,500 | — (batch does not split) | — | — | — |"


def test_page_rewrites_only_the_marked_sections(tmp_path):
    results, before, page = tmp_path / "speed.json", tmp_path / "before.json", tmp_path / "training.md"
    results.write_text(json.dumps(_results()))
    before.write_text(json.dumps({"benchmarks": [_throughput("gapnet", 1, 1000.0)]}))
    markers = "<!-- zoo:speed:start -->\nold\n<!-- zoo:speed:end -->\n"
    markers += "<!-- zoo:throughput:start -->\n<!-- zoo:throughput:end -->"
    page.write_text(f"# Speed\n\n{markers}\n\nkept\n")
    assert main([str(results), "--before", str(before), "--page", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Speed\n\n<!-- zoo:speed:start -->\nOne sitting on") and text.endswith("\n\nkept\n")
    assert "old" not in text and "| 1,000 (bf16) | 2.00x |" in text
