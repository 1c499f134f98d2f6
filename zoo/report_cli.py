"""`zoo report`, `zoo data`, `zoo inspect` and `zoo tune`."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_report(args) -> int:
    from zoo.report import rewrite_readme, write_report

    report, runs, rows = write_report(Path(args.runs), Path(args.out))
    for path, why in runs.skipped:
        print(f"skipped {path}: {why}")
    trained = sum(1 for r in rows if r["seeds"])
    print(f"{report}: {len(rows)} models, {trained} trained, {len(runs.skipped)} run directories skipped")
    if args.readme:
        changed = rewrite_readme(Path(args.readme), rows)
        print(f"{args.readme}: model table {'rewritten' if changed else 'already up to date'}")
    return 0


def cmd_data(args) -> int:
    from zoo.cli import _load_data
    from zoo.explore import explore_data

    summary = explore_data(_load_data(args), Path(args.out))
    for split in ("train", "validation", "test"):
        s = summary[split]
        print(
            f"{split:>10}: {s['images']:,} images, pixel mean {s['pixel_mean']:.4f} std {s['pixel_std']:.4f}, "
            f"{s['empty_images']} empty, {s['duplicate_images']} duplicates; labels {s['labels']}"
        )
    print(f"duplicates across splits: {summary['duplicates_across_splits']}; plots in {args.out}")
    return 0


def cmd_inspect(args) -> int:
    import zoo
    from zoo.artifacts import load_weights
    from zoo.cli import _load_data
    from zoo.explore import inspect_run

    model, sidecar = load_weights(args.run, zoo.create_model)
    out = Path(args.out) if args.out else Path(args.run) / "inspect"
    found = inspect_run(model, _load_data(args), out, sidecar["model"])
    print(
        f"{sidecar['model']}: {found['misclassified']} misclassified test images; filters, mistakes and "
        f"confusion matrix in {out}"
    )
    return 0


def cmd_tune(args) -> int:
    import zoo
    from zoo.cli import _load_data
    from zoo.tune import tune_lr

    zoo.get_spec(args.name)
    out = Path(args.out) if args.out else Path("runs") / args.name / "tuned.json"
    s = tune_lr(
        args.name,
        _load_data(args),
        trials=args.trials,
        timeout=args.timeout,
        epochs=args.epochs,
        seed=args.seed,
        out=out,
        progress=not args.quiet,
    )
    print(
        f"{args.name}: best lr {s['overrides']['lr']:.4g} -> val acc {s['best_val_accuracy']:.4f} "
        f"(default lr {s['default_lr']:.4g} -> {s['default_val_accuracy']:.4f}) after {len(s['trials'])} trials "
        f"in {s['seconds']:.0f}s; overrides in {out} (zoo train {args.name} --recipe {out})"
    )
    return 0


def add_report_commands(sub: argparse._SubParsersAction) -> None:
    from zoo.cli import _data_args

    p = sub.add_parser("report", help="leaderboard and Pareto plot from the registry and run directories")
    p.add_argument("--runs", default="runs", help="folder searched for run directories (default runs)")
    p.add_argument("--out", default="report", help="where report.md and the PNGs go (default report)")
    p.add_argument("--readme", help="also rewrite this README's marked model table")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("data", help="label distribution, pixel statistics, empty/duplicate images, samples")
    p.add_argument("--out", default="report/data")
    _data_args(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("inspect", help="first-layer filters, misclassified images, confusion matrix of a run")
    p.add_argument("run", help="a run directory (or .safetensors with its sidecar)")
    p.add_argument("--out", help="default RUN/inspect")
    _data_args(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("tune", help="Optuna learning-rate search on the validation split")
    p.add_argument("name")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--timeout", type=float, default=840.0, help="seconds before no new trial starts")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="overrides JSON (default runs/NAME/tuned.json)")
    p.add_argument("--quiet", action="store_true")
    _data_args(p)
    p.set_defaults(func=cmd_tune)
