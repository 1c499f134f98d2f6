"""The speed table reads `nox -s speed`'s JSON: both ratios follow the figures, each seed gets a row."""

from __future__ import annotations

import json

from tools.speed.table import table


def _bench(name: str, mean: float, **extra) -> dict:
    return {"name": name, "stats": {"mean": mean}, "extra_info": extra}


def _json(tmp_path, processes: int = 1):
    seed = _bench("test_seed_pipeline", 30.0, images_per_s=800.0, batches=300, projected_19_epochs_s=1200.0)
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
    path = tmp_path / "speed.json"
    path.write_text(json.dumps({"benchmarks": [seed, *runs]}))
    return path


def test_table_gives_both_ratios_and_every_seed(tmp_path):
    text = table(str(_json(tmp_path)))
    assert "**6.0x** less" in text and "(4.8x less)" in text  # 1200/200 training, 1200/250 whole call
    assert "99.50% ± 0.10" in text
    assert all(f"--seed {s}` (9 epochs)" in text for s in (0, 1, 2))
    assert "--nproc" not in text


def test_table_names_the_launch_for_several_processes(tmp_path):
    assert table(str(_json(tmp_path, processes=2))).count("--nproc 2") == 3
