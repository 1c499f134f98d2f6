"""The `zoo` command. Every user mistake ends in one line on stderr and a non-zero exit.

Heavy modules (training, reports, Optuna) are imported inside the command that needs them, so
`zoo list` does not pay for matplotlib and torchmetrics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from zoo.errors import Interrupted, ZooError
from zoo.spec import check_model, create_model, get_spec, list_models, probe_for
from zoo.spec.catalog import model_table

EXIT_ERROR, EXIT_USAGE = 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $ZOO_DATA_DIR or the user cache)")
    p.add_argument("--no-download", action="store_true", help="never try to download missing files")


def _load_data(args):
    from zoo.data.mnist import load_mnist

    return load_mnist(args.data_dir, download=not args.no_download)


def cmd_list(args) -> int:
    if args.pretrained:
        return _list_pretrained(args.pattern)
    rows = model_table(args.pattern)
    header = ("model", "params", "MACs", "constraints", "check")
    cells = [header] + [
        (r["name"], f"{r['params']:,}", f"{r['macs']:,}", ", ".join(r["constraints"]), r["check"]) for r in rows
    ]
    _print_columns(cells, numeric=(1, 2))
    return 0 if all(r["check"] == "pass" for r in rows) else EXIT_ERROR


def _list_pretrained(pattern: str) -> int:
    from zoo.spec import get_weights, list_weights

    header = ("model", "test accuracy", "seed", "file size", "sha256", "weights")
    cells = [header]
    for name in (n for n in list_weights() if n in list_models(pattern)):
        w = get_weights(name)
        where = "packaged" if w.file else (w.url or "not published (no host yet)")
        size = f"{w.meta['file_size'] / 1e3:,.1f} kB"
        cells.append((name, f"{w.meta['test_accuracy']:.2%}", str(w.meta["seed"]), size, w.sha256[:12], where))
    if len(cells) == 1:
        raise ZooError(f"no published weights match {pattern!r}")
    _print_columns(cells, numeric=(1, 2, 3))
    return 0


def _print_columns(cells: list[tuple[str, ...]], numeric: tuple[int, ...]) -> None:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for i, row in enumerate(cells):
        print(
            "  ".join(c.rjust(w) if j in numeric else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))


def cmd_summary(args) -> int:
    from torchinfo import summary

    model = create_model(args.name)
    print(summary(model, input_size=(1, 1, 28, 28), col_names=("output_size", "num_params", "mult_adds"), verbose=0))
    for result in check_model(model, get_spec(args.name).constraints):
        print(result)
    return 0


def _recipe(args):
    from zoo.spec.recipe import load_overrides

    overrides = load_overrides(args.recipe) if args.recipe else {}
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "train_samples": args.train_samples}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    return get_spec(args.name).recipe.replace(**overrides)


def cmd_train(args) -> int:
    spec = get_spec(args.name)  # an unknown name fails before the data loads
    recipe = _recipe(args)
    if args.resume:
        _refuse_resume_overrides(args)
    if args.nproc != 1:
        from zoo.train.distributed import launch, launched

        if not launched():
            _refuse_unlaunchable(args, recipe)
            return launch(args.nproc, _without_nproc(args.argv))
    data = _load_data(args)
    if args.resume:
        from zoo.train import resume

        results = [resume(args.resume, data, name=spec.name, device=args.device, progress=not args.quiet)]
    else:
        results = _train_seeds(args, spec.name, recipe, data)
    if not _main_rank():
        return 0
    accs = [r["test"]["accuracy"] for r in results]
    mean = statistics.fmean(accs)
    spread = f" +- {statistics.stdev(accs):.4%} over {len(accs)} seeds" if len(accs) > 1 else ""
    verdict = "meets" if mean >= spec.gate.target else "MISSES"
    print(f"{spec.name}: test accuracy {mean:.4%}{spread}; {verdict} the target {spec.gate.target:.2%}")
    return 0


def _refuse_unlaunchable(args, recipe) -> None:
    """What would fail inside every rank is refused here, before any process starts."""
    import torch

    if args.nproc < 1:
        raise ZooError(f"--nproc must be >= 1, got {args.nproc}")
    if recipe.batch_size % args.nproc:
        raise ZooError(f"batch size {recipe.batch_size:,} does not split evenly over {args.nproc} processes")
    gpus = torch.cuda.device_count()
    on_gpus = args.device.startswith("cuda") or (args.device == "auto" and gpus > 0)
    if on_gpus and args.nproc > gpus:
        raise ZooError(f"--nproc {args.nproc}: {gpus} GPU(s) here, one process each (--device cpu for CPU ranks)")
    if recipe.sync_batchnorm and not on_gpus:
        from zoo.train.state import SYNC_BATCHNORM_CPU

        raise ZooError(SYNC_BATCHNORM_CPU)


def _main_rank() -> bool:
    """False in torchrun's ranks other than 0, which train but leave the printing to rank 0."""
    return os.environ.get("RANK", "0") == "0"


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line as each rank runs it: the same, less `--nproc N`."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def _refuse_resume_overrides(args) -> None:
    given = [f for f in ("epochs", "batch_size", "lr", "train_samples", "recipe", "out") if getattr(args, f)]
    if given or args.seeds != 1 or args.seed != 0 or args.overwrite:
        flags = ", ".join("--" + f.replace("_", "-") for f in given) or "--seed/--seeds/--overwrite"
        raise ZooError(f"--resume continues the run's saved recipe and seed; drop {flags}")


def _train_seeds(args, name: str, recipe, data) -> list[dict]:
    from zoo.train import train

    base = Path(args.out) if args.out else Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")
    results = []
    for seed in range(args.seed, args.seed + args.seeds):
        run_dir = base if args.seeds == 1 else base / f"seed{seed}"
        r = train(
            name,
            recipe,
            data,
            run_dir,
            seed=seed,
            device=args.device,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        results.append(r)
        if _main_rank():
            print(
                f"{name} seed {seed}: test accuracy {r['test']['accuracy']:.4%}, macro F1 "
                f"{r['test']['macro_f1']:.4f}, AUROC {r['test']['auroc']:.5f}, {r['epochs']} epochs in "
                f"{r['train_seconds']:.0f}s ({r['train_images_per_s']:,.0f} img/s) -> {run_dir}"
            )
    return results


def cmd_eval(args) -> int:
    from zoo.report.publish import evaluate_cpu
    from zoo.spec import get_weights

    if args.pretrained:
        name, model = args.checkpoint, create_model(args.checkpoint, pretrained=True)
        recorded = f" (published: {get_weights(name).meta['test_accuracy']:.4%})"
    else:
        from zoo.artifacts import load_weights
        from zoo.train.rundir import RunDir

        model, sidecar = load_weights(RunDir.weights_in(args.checkpoint), create_model)
        name, recorded = sidecar["model"], ""
    metrics = evaluate_cpu(model, _load_data(args))
    print(
        f"{name}: test accuracy {metrics['accuracy']:.4%}{recorded}, macro F1 {metrics['macro_f1']:.4f}, "
        f"AUROC {metrics['auroc']:.5f} on {metrics['samples']:,} images"
    )
    return 0


def cmd_export(args) -> int:
    from zoo.data.mnist import normalize
    from zoo.spec.exporting import MAX_LOGIT_DIFFERENCE, export_onnx, parity

    spec = get_spec(args.name)
    model = create_model(args.name, pretrained=args.pretrained)
    out = Path(args.out)
    export_onnx(model, out, probe_for(model, spec.constraints).input_shape)
    images = normalize(_load_data(args).test_x[: args.images])
    result = parity(model, out, images)
    verdict = "parity holds" if result.ok else f"PARITY FAILS (limit {MAX_LOGIT_DIFFERENCE:.0e}, same predictions)"
    print(
        f"{args.name}{' (published weights)' if args.pretrained else ''} -> {out} ({out.stat().st_size:,} bytes, "
        f"dynamic batch); onnxruntime on {result.images:,} test images: max |logit difference| "
        f"{result.max_difference:.1e}, predictions {'identical' if result.same_predictions else 'DIFFER'}; {verdict}"
    )
    return 0 if result.ok else EXIT_ERROR


def cmd_publish(args) -> int:
    from zoo.report.publish import publish

    w = publish(Path(args.run), _load_data(args), Path(args.ledger))
    where = f"packaged as zoo/weights/{w.file}" if w.file else "entry written, not published (no host for its size)"
    print(
        f"{w.model}: seed {w.meta['seed']} reproduces its recorded test accuracy {w.meta['test_accuracy']:.4%}; "
        f"{where} (sha256 {w.sha256[:12]}, {w.meta['file_size']:,} bytes)"
    )
    return 0


def cmd_report(args) -> int:
    from zoo.report import rewrite_readme, write_report
    from zoo.report.publish import weights_table

    report, rows = write_report(Path(args.ledger), Path(args.out))
    recorded = sum(1 for r in rows if r["seeds"])
    print(f"{report}: {len(rows)} models, {recorded} with runs of record ({sum(r['seeds'] for r in rows)} runs)")
    if args.readme:
        changed = rewrite_readme(Path(args.readme), rows, weights_table())
        print(f"{args.readme}: model table {'rewritten' if changed else 'already up to date'}")
    return 0


def cmd_record(args) -> int:
    from zoo.report.ledger import record_run
    from zoo.report.runs import find_runs

    run_dirs = [d for path in args.runs for d in (find_runs(Path(path)) or [Path(path)])]
    for run_dir in run_dirs:  # each is validated and appended on its own: a bad one stops, the rest stay
        record, path = record_run(run_dir, Path(args.ledger), experiment=args.experiment)
        print(
            f"recorded {record['model']} seed {record['seed']}: test accuracy {record['test_accuracy']:.4%}, "
            f"{record['epochs']} epochs on {record['device_name']} -> {path}"
        )
    return 0


def cmd_data(args) -> int:
    from zoo.report import explore_data

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
    from zoo.artifacts import load_weights
    from zoo.report import inspect_run
    from zoo.train.rundir import RunDir

    model, sidecar = load_weights(RunDir.weights_in(args.run), create_model)
    out = Path(args.out) if args.out else Path(args.run) / "inspect"
    found = inspect_run(model, _load_data(args), out, sidecar["model"])
    print(
        f"{sidecar['model']}: {found['misclassified']} misclassified test images; filters, mistakes and "
        f"confusion matrix in {out}"
    )
    return 0


def cmd_tune(args) -> int:
    from zoo.train.tune import tune_lr

    get_spec(args.name)
    out = Path(args.out) if args.out else Path("runs") / args.name / "tuned.json"
    s = tune_lr(
        args.name,
        _load_data(args),
        trials=args.trials,
        timeout=args.timeout,
        epochs=args.epochs,
        seed=args.seed,
        train_samples=args.train_samples or 0,
        storage=args.storage,
        study_name=args.study,
        out=out,
        progress=not args.quiet,
    )
    default = "not finished" if s["default_val_accuracy"] is None else f"{s['default_val_accuracy']:.4f}"
    print(
        f"{args.name}: best lr {s['overrides']['lr']:.4g} -> val acc {s['best_val_accuracy']:.4f} "
        f"(default lr {s['default_lr']:.4g} -> {default}) after {len(s['trials'])} trials "
        f"in {s['seconds']:.0f}s; overrides in {out} (zoo train {args.name} --recipe {out})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoo", description="A constraint-checked zoo of MNIST models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="registered models with params, MACs and constraint checks")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch filter, e.g. 'tiny-*'")
    p.add_argument("--pretrained", action="store_true", help="only models with published weights")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("summary", help="torchinfo summary and constraint checks of one model")
    p.add_argument("name")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("train", help="train a model with its recipe and evaluate it on the test set")
    p.add_argument("name")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--train-samples", type=int, help="train on the first N training images only")
    p.add_argument("--recipe", help="JSON file of recipe overrides (as `zoo tune` writes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, help="train this many seeds (seed, seed+1, ...), report mean +- std")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", help="run directory (default runs/NAME/TIMESTAMP)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--nproc", type=int, default=1, help="data-parallel processes on this machine (started through torchrun)"
    )
    _add_data_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate saved or published weights on the test set (CPU)")
    p.add_argument("checkpoint", help="a run directory or a .safetensors file; a model name with --pretrained")
    p.add_argument("--pretrained", action="store_true", help="evaluate the model's published weights")
    _add_data_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("report", help="leaderboard and Pareto plot from the registry and the results of record")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    p.add_argument("--out", default="report", help="where report.md and the PNGs go (default report)")
    p.add_argument("--readme", help="also rewrite this README's marked model table")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("record", help="validate finished full-recipe runs and append them to the results ledger")
    p.add_argument("runs", nargs="+", help="run directories, or folders searched for them")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    p.add_argument("--experiment", action="store_true", help="record under experiments/ (another recipe)")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("export", help="export to ONNX (dynamic batch) and check parity with onnxruntime")
    p.add_argument("name")
    p.add_argument("--pretrained", action="store_true", help="export the published weights")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--images", type=int, default=1000, help="test images for the parity check (default 1000)")
    _add_data_args(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("publish", help="publish a recorded run's weights (best validation run of record)")
    p.add_argument("run", help="a finished, recorded run directory")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    _add_data_args(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("data", help="label distribution, pixel statistics, empty/duplicate images, samples")
    p.add_argument("--out", default="report/data")
    _add_data_args(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("inspect", help="first-layer filters, misclassified images, confusion matrix of a run")
    p.add_argument("run", help="a run directory (or .safetensors with its sidecar)")
    p.add_argument("--out", help="default RUN/inspect")
    _add_data_args(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("tune", help="Optuna learning-rate search on the validation split")
    p.add_argument("name")
    p.add_argument("--trials", type=int, default=8, help="trials (with --storage: in the whole study)")
    p.add_argument("--timeout", type=float, default=840.0, help="seconds before no new trial starts")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="overrides JSON (default runs/NAME/tuned.json)")
    p.add_argument("--train-samples", type=int, help="tune on the first N training images only")
    p.add_argument(
        "--storage", help="share the study: a journal file path, or an RDB URL (sqlite:///f.db, postgresql://...)"
    )
    p.add_argument("--study", help="the study's name in --storage (default zoo-NAME)")
    p.add_argument("--quiet", action="store_true")
    _add_data_args(p)
    p.set_defaults(func=cmd_tune)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    who = "zoo" if _main_rank() else f"zoo[rank {os.environ['RANK']}]"
    try:
        return args.func(args)
    except Interrupted as exc:
        if not exc.quiet:
            print(f"zoo: {exc}", file=sys.stderr)
        return exc.exit_code
    except ZooError as exc:
        if args.debug:
            raise
        print(f"{who}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{who}: interrupted", file=sys.stderr)
        return 130
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    if "torch.distributed" in sys.modules:
        from zoo.train.distributed import leave

        leave()


if __name__ == "__main__":
    sys.exit(main())
