"""The `zoo` command. Every user mistake ends in one line on stderr and a non-zero exit.

Heavy modules (training, reports, Optuna) are imported inside the command that needs them, so
`zoo list` does not pay for matplotlib and torchmetrics.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from zoo.contract import check_model, get_spec, list_models, probe_for
from zoo.errors import Interrupted, ZooError
from zoo.hub import create_model
from zoo.report.catalog import check_cell, model_table

EXIT_ERROR, EXIT_USAGE = 1, 2
MAX_SEED = 2**31 - 1  # an epoch's generator is seeded from seed * 100,003 * 1,009: it must stay in 64 bits


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _integer(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high], else a one-line usage error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high if high is not None else 'inf'}], got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0 (no NaN, no infinity)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


COUNT, NATURAL, SEED = _integer(1), _integer(0), _integer(0, MAX_SEED)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $ZOO_DATA_DIR or the user cache)")
    p.add_argument("--no-download", action="store_true", help="never try to download missing files")


def _load_data(args):
    from zoo.data.mnist import load_mnist

    return load_mnist(args.data_dir, download=not args.no_download)


def cmd_list(args) -> int:
    if args.pretrained:
        return _list_pretrained(args.pattern)
    rows = model_table(args.pattern, check=args.check, progress=True)
    cells = [("model", "params", "MACs", "constraints")]
    cells += [(r.name, f"{r.params:,}", f"{r.macs:,}", ", ".join(r.constraints)) for r in rows]
    if args.check:
        cells = [(*cells[0], "check")] + [(*cell, check_cell(r.failed)) for cell, r in zip(cells[1:], rows)]
    _print_columns(cells, numeric=(1, 2))
    return EXIT_ERROR if args.check and any(r.failed for r in rows) else 0


def _list_pretrained(pattern: str) -> int:
    from zoo.hub import get_weights, list_weights

    header = ("model", "test accuracy", "seed", "file size", "sha256", "weights")
    cells = [header]
    for name in (n for n in list_weights() if n in list_models(pattern)):
        w = get_weights(name)
        size = f"{w.meta['file_size'] / 1e3:,.1f} kB"
        cells.append((name, f"{w.meta['test_accuracy']:.2%}", str(w.meta["seed"]), size, w.sha256[:12], w.where))
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


def cmd_check(args) -> int:
    from zoo import checker

    target = args.target
    constraints = checker.constraints_from(
        like=args.like,
        max_params=args.max_params,
        max_macs=args.max_macs,
        max_flash=args.max_flash,
        max_ram=args.max_ram,
        precision=args.precision,
        batchnorm=args.batchnorm,
        dropout=args.dropout,
        gap=args.gap,
        no_fc=args.no_fc,
        onnx=args.onnx,
        input_shape=args.input,
        classes=args.classes,
    )
    if args.train and args.target_accuracy is None:
        raise ZooError("--train needs --target, the test accuracy in percent the model must reach")
    builder = checker.load_builder(target)
    verdict = checker.check(checker.build(builder, target), constraints, target)
    if args.train:
        out = Path(args.out or "runs/zoo-check")
        claim = checker.train_claim(
            builder,
            constraints,
            args.train,
            epochs=args.epochs,
            target=args.target_accuracy / 100,
            train_samples=args.train_samples or 0,
            data=_load_data(args),
            out=out,
            seed=args.seed,
            progress=not args.quiet and not args.json,
        )
        verdict = checker.Verdict(verdict.target, verdict.params, verdict.macs, verdict.results, claim)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as summary:
            summary.write(verdict.markdown())
    print(json.dumps(verdict.to_json(), indent=2) if args.json else verdict.text())
    return 0 if verdict.passed else EXIT_ERROR


def cmd_summary(args) -> int:
    from torchinfo import summary

    model = create_model(args.name)
    print(summary(model, input_size=(1, 1, 28, 28), col_names=("output_size", "num_params", "mult_adds"), verbose=0))
    for result in check_model(model, get_spec(args.name).constraints):
        print(result)
    return 0


def _recipe(args):
    from zoo.contract.recipe import load_overrides

    overrides = load_overrides(args.recipe) if args.recipe else {}
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "train_samples": args.train_samples}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    return get_spec(args.name).recipe.replace(**overrides)


def cmd_train(args) -> int:
    from zoo.train.loop import check_runnable

    spec = get_spec(args.name)  # an unknown name, a bad value: all fail before the data loads
    recipe = _recipe(args)
    if args.resume:
        _refuse_resume_overrides(args)
    args.nproc = _resolve_nproc(args)
    if not args.resume:
        check_runnable(recipe, args.nproc)
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise ZooError(f"--seed {args.seed} --seeds {args.seeds}: the last seed would exceed {MAX_SEED}")
    if args.nproc != 1:
        from zoo.train.distributed import launch, launched

        if not launched():
            _refuse_unlaunchable(args, recipe)
            return launch(args.nproc, _without_nproc(args.argv), debug=args.debug)
    data = _load_data(args)
    if args.resume:
        from zoo.train import resume

        results = [resume(args.resume, data, name=spec.name, device=args.device, progress=not args.quiet)]
    else:
        results = _train_seeds(args, spec.name, recipe, data)
    if not _main_rank():
        return 0
    from zoo.report import read_finished_run
    from zoo.report.verdict import judge

    print(judge(spec, [read_finished_run(r["run_dir"]).seed_run() for r in results]).line())
    return 0


def _resolve_nproc(args) -> int:
    """--nproc as given, else one process; a resumed run keeps the processes it started with."""
    if args.nproc is None and args.resume:
        from zoo.train.rundir import RunDir

        return RunDir.unfinished(args.resume).read_config().get("world_size", 1)
    return 1 if args.nproc is None else args.nproc


def _refuse_unlaunchable(args, recipe) -> None:
    """What would fail inside every rank is refused here, before any process starts."""
    import torch

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
    """Each seed in turn; a default directory (runs/NAME/TIME) is claimed exclusively, suffixed if taken."""
    from zoo.train import train

    default = args.out is None
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
            unique_root=base if default and not results else None,
        )
        base = Path(r["run_dir"]) if args.seeds == 1 else Path(r["run_dir"]).parent
        results.append(r)
        if _main_rank():
            print(
                f"{name} seed {seed}: test accuracy {r['test']['accuracy']:.4%}, macro F1 "
                f"{r['test']['macro_f1']:.4f}, AUROC {r['test']['auroc']:.5f}, {r['epochs']} epochs in "
                f"{r['train_seconds']:.0f}s ({r['train_images_per_s']:,.0f} img/s) -> {r['run_dir']}"
            )
    return results


def cmd_eval(args) -> int:
    from zoo.hub import get_weights
    from zoo.train.evaluate import evaluate_cpu

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
    """Export beside --out, check parity with onnxruntime, and only then put the file at --out."""
    import tempfile

    from zoo.data.mnist import normalize
    from zoo.export import MAX_LOGIT_DIFFERENCE, export_onnx, parity

    spec = get_spec(args.name)
    model = create_model(args.name, pretrained=args.pretrained)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ZooError(f"--out {out}: folder {out.parent} does not exist")
    images = normalize(_load_data(args).test_x[: args.images])
    fd, scratch = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".onnx")
    os.close(fd)
    try:
        export_onnx(model, Path(scratch), probe_for(model, spec.constraints).input_shape)
        result = parity(model, Path(scratch), images)
        if result.ok:
            os.replace(scratch, out)
    finally:
        Path(scratch).unlink(missing_ok=True)
    verdict = "parity holds" if result.ok else f"PARITY FAILS (limit {MAX_LOGIT_DIFFERENCE:.0e}, same predictions)"
    kept = f"{out} ({out.stat().st_size:,} bytes, dynamic batch)" if result.ok else f"nothing written at {out}"
    print(
        f"{args.name}{' (published weights)' if args.pretrained else ''} -> {kept}; onnxruntime on "
        f"{result.images:,} test images: max |logit difference| {result.max_difference:.1e}, predictions "
        f"{'identical' if result.same_predictions else 'DIFFER'}; {verdict}"
    )
    return 0 if result.ok else EXIT_ERROR


def cmd_quantize(args) -> int:
    from zoo.report.int8 import MAX_DROP, publish_int8, quantize_published

    get_spec(args.name)
    data = _load_data(args)
    if args.publish:
        result, _ = publish_int8(args.name, data)
    else:
        out = Path(args.out or f"{args.name}.int8.onnx")
        if not out.parent.is_dir():
            raise ZooError(f"--out {out}: folder {out.parent} does not exist")
        result = quantize_published(args.name, data, out)
    from zoo.quantize import runtime_version

    print(
        f"{args.name}: int8 {result.accuracy:.2%} in {runtime_version()} on the 10,000 test images, float "
        f"{result.float_accuracy:.2%} ({-result.drop * 100:+.2f} points; at most -{MAX_DROP * 100:.2f} kept) "
        f"-> {result.path} ({result.path.stat().st_size:,} bytes); {result.recipe.describe()}"
    )
    return 0 if result.kept else EXIT_ERROR


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
    from zoo.report import page_tables, rewrite_pages, write_report

    report, rows = write_report(Path(args.ledger), Path(args.out))
    recorded = sum(1 for r in rows if r.seeds)
    print(f"{report}: {len(rows)} models, {recorded} with runs of record ({sum(r.seeds for r in rows)} runs)")
    if args.pages:
        pages = [Path(p) for p in args.pages]
        changed = rewrite_pages(pages, page_tables(rows, Path(args.ledger)))
        for page in pages:
            print(f"{page}: generated tables {'rewritten' if page in changed else 'already up to date'}")
    return 0


def cmd_record(args) -> int:
    """Record every run named or found; each refusal is one line, and the rest are still recorded."""
    from zoo.errors import AlreadyRecorded
    from zoo.report.ledger import record_run
    from zoo.report.runs import find_runs

    run_dirs = [d for path in args.runs for d in (find_runs(Path(path)) or [Path(path)])]
    recorded, seen, refused = 0, 0, 0
    for run_dir in run_dirs:
        try:
            record, path = record_run(
                run_dir,
                Path(args.ledger),
                experiment=args.experiment,
                accept_resumed=args.accept_resumed,
                accept_code=args.accept_code,
            )
        except AlreadyRecorded as exc:
            if len(run_dirs) == 1:  # named on its own, a run already recorded is a mistake
                raise
            seen += 1
            print(f"skipped {exc}")
            continue
        except ZooError as exc:
            refused += 1
            print(f"zoo: refused {exc}", file=sys.stderr)
            continue
        recorded += 1
        print(
            f"recorded {record['model']} seed {record['seed']}: test accuracy {record['test_accuracy']:.4%}, "
            f"{record['epochs']} epochs on {record['device_name']} -> {path}"
        )
    if len(run_dirs) > 1:
        print(f"{recorded} recorded, {seen} already on the record, {refused} refused")
    return EXIT_ERROR if refused else 0


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
    from zoo.train.tune import Search, tune_lr

    get_spec(args.name)
    out = Path(args.out) if args.out else Path("runs") / args.name / "tuned.json"
    search = Search(
        trials=args.trials,
        timeout=args.timeout,
        epochs=args.epochs,
        seed=args.seed,
        train_samples=args.train_samples or 0,
        storage=args.storage,
        study_name=args.study,
        heartbeat=args.heartbeat,
    )
    s = tune_lr(args.name, _load_data(args), search, out=out, progress=not args.quiet)
    default = "not finished" if s["default_val_accuracy"] is None else f"{s['default_val_accuracy']:.4f}"
    print(
        f"{args.name}: best lr {s['overrides']['lr']:.4g} -> val acc {s['best_val_accuracy']:.4f} "
        f"(default lr {s['default_lr']:.4g} -> {default}) after {len(s['trials'])} trials "
        f"in {s['seconds']:.0f}s; overrides in {out} (zoo train {args.name} --recipe {out})"
    )
    return 0


def _list_parser(sub) -> None:
    p = sub.add_parser("list", help="registered models with params, MACs and declared constraints")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch filter, e.g. 'tiny-*'")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--check", action="store_true", help="also run every constraint (exports each model to ONNX)")
    shown.add_argument("--pretrained", action="store_true", help="the published weights instead")
    p.set_defaults(func=cmd_list)


def _shape(text: str) -> tuple[int, ...]:
    """An argparse type: an image shape such as 1x28x28."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape such as 1x28x28, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"every size must be >= 1, got {text!r}")
    return shape


def _percent(text: str) -> float:
    """An argparse type: a percentage in (0, 100]."""
    value = _positive(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"a percentage in (0, 100], got {text}")
    return value


def _check_parser(sub) -> None:
    p = sub.add_parser("check", help="judge any model (file.py:Builder or package.module:Builder) against constraints")
    p.add_argument("target", help="path/to/file.py:Name or package.module:Name (a class or function)")
    p.add_argument("--like", metavar="MODEL", help="start from a registered model's constraints")
    p.add_argument("--max-params", type=COUNT, metavar="N")
    p.add_argument("--max-macs", type=COUNT, metavar="N", help="multiply-accumulates per image")
    p.add_argument("--max-flash", type=COUNT, metavar="BYTES", help="weights stored at --precision")
    p.add_argument("--max-ram", type=COUNT, metavar="BYTES", help="peak activation bytes, batch 1, at --precision")
    p.add_argument("--precision", choices=["int8", "fp16", "fp32"], default="int8", help="for --max-flash/--max-ram")
    p.add_argument("--batchnorm", action="store_true", help="BatchNorm must normalise a tensor in the forward pass")
    p.add_argument("--dropout", action="store_true", help="Dropout must run in training mode")
    p.add_argument("--gap", action="store_true", help="global average pooling must collapse the feature map")
    p.add_argument("--no-fc", action="store_true", help="no fully-connected (dense) product anywhere")
    p.add_argument("--onnx", action="store_true", help="exports to ONNX and onnxruntime agrees with PyTorch")
    p.add_argument("--input", type=_shape, default=(1, 28, 28), help="one image's shape (default 1x28x28)")
    p.add_argument("--classes", type=COUNT, default=10)
    p.add_argument("--train", metavar="MODEL", help="also train with this registered model's recipe")
    p.add_argument("--epochs", type=COUNT, help="with --train: the epochs allowed (default the recipe's)")
    p.add_argument("--target", dest="target_accuracy", type=_percent, help="with --train: test accuracy in %%")
    p.add_argument("--train-samples", type=COUNT, help="with --train: the first N training images only")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--out", help="with --train: the run directory (default runs/zoo-check)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--summary", help="append the verdict as markdown to this file ($GITHUB_STEP_SUMMARY)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_data_args(p)
    p.set_defaults(func=cmd_check)


def _summary_parser(sub) -> None:
    p = sub.add_parser("summary", help="torchinfo summary and constraint checks of one model")
    p.add_argument("name")
    p.set_defaults(func=cmd_summary)


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model with its recipe and evaluate it on the test set")
    p.add_argument("name")
    p.add_argument("--epochs", type=COUNT)
    p.add_argument("--batch-size", type=COUNT)
    p.add_argument("--lr", type=_positive)
    p.add_argument("--train-samples", type=COUNT, help="train on the first N training images only")
    p.add_argument("--recipe", help="JSON file of recipe overrides (as `zoo tune` writes)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument(
        "--seeds", type=COUNT, default=1, help="train this many seeds (seed, seed+1, ...), report mean +- std"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", help="run directory (default runs/NAME/TIMESTAMP)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--nproc",
        type=COUNT,
        help="data-parallel processes on this machine, started through torchrun (default 1; "
        "a resumed run: as many as it started with)",
    )
    _add_data_args(p)
    p.set_defaults(func=cmd_train)


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate saved or published weights on the test set (CPU)")
    p.add_argument("checkpoint", help="a run directory or a .safetensors file; a model name with --pretrained")
    p.add_argument("--pretrained", action="store_true", help="evaluate the model's published weights")
    _add_data_args(p)
    p.set_defaults(func=cmd_eval)


def _report_parser(sub) -> None:
    p = sub.add_parser("report", help="leaderboard and Pareto plot from the registry and the results of record")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    p.add_argument("--out", default="report", help="where report.md and the PNGs go (default report)")
    p.add_argument(
        "--page",
        "--readme",
        dest="pages",
        action="append",
        help="also rewrite the marked tables in this page (repeatable: README.md, docs/results.md, docs/weights.md)",
    )
    p.set_defaults(func=cmd_report)


def _record_parser(sub) -> None:
    p = sub.add_parser("record", help="validate finished full-recipe runs and append them to the results ledger")
    p.add_argument("runs", nargs="+", help="run directories, or folders searched for them")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    p.add_argument("--experiment", action="store_true", help="record under experiments/ (another recipe)")
    p.add_argument(
        "--accept-resumed", action="store_true", help="record a run resumed on other code than it started on"
    )
    p.add_argument(
        "--accept-code",
        action="store_true",
        help="record a run of today's parameters built by other code, once today's code trains it to the same bytes",
    )
    p.set_defaults(func=cmd_record)


def _export_parser(sub) -> None:
    p = sub.add_parser("export", help="export to ONNX (dynamic batch) and check parity with onnxruntime")
    p.add_argument("name")
    p.add_argument("--pretrained", action="store_true", help="export the published weights")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument(
        "--images", type=_integer(1, 10_000), default=1000, help="test images for the parity check (default 1000)"
    )
    _add_data_args(p)
    p.set_defaults(func=cmd_export)


def _quantize_parser(sub) -> None:
    p = sub.add_parser("quantize", help="int8 of the published weights (ONNX QDQ), measured in ONNX Runtime")
    p.add_argument("name")
    p.add_argument("--out", help="the .onnx file to write (default NAME.int8.onnx)")
    p.add_argument("--publish", action="store_true", help="put it beside the float weights, in their entry")
    _add_data_args(p)
    p.set_defaults(func=cmd_quantize)


def _publish_parser(sub) -> None:
    p = sub.add_parser("publish", help="publish a recorded run's weights (best validation run of record)")
    p.add_argument("run", help="a finished, recorded run directory")
    p.add_argument("--ledger", default="results", help="the results ledger folder (default results)")
    _add_data_args(p)
    p.set_defaults(func=cmd_publish)


def _data_parser(sub) -> None:
    p = sub.add_parser("data", help="label distribution, pixel statistics, empty/duplicate images, samples")
    p.add_argument("--out", default="report/data")
    _add_data_args(p)
    p.set_defaults(func=cmd_data)


def _inspect_parser(sub) -> None:
    p = sub.add_parser("inspect", help="first-layer filters, misclassified images, confusion matrix of a run")
    p.add_argument("run", help="a run directory (or .safetensors with its sidecar)")
    p.add_argument("--out", help="default RUN/inspect")
    _add_data_args(p)
    p.set_defaults(func=cmd_inspect)


def _tune_parser(sub) -> None:
    p = sub.add_parser("tune", help="Optuna learning-rate search on the validation split")
    p.add_argument("name")
    p.add_argument("--trials", type=COUNT, default=8, help="trials (with --storage: in the whole study)")
    p.add_argument("--timeout", type=_positive, default=840.0, help="seconds before no new trial starts")
    p.add_argument("--epochs", type=COUNT, default=2, help="epochs per trial")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--out", help="overrides JSON (default runs/NAME/tuned.json)")
    p.add_argument("--train-samples", type=COUNT, help="tune on the first N training images only")
    p.add_argument(
        "--storage", help="share the study: a journal file path, or an RDB URL (sqlite:///f.db, postgresql://...)"
    )
    p.add_argument("--study", help="the study's name in --storage (default zoo-NAME)")
    p.add_argument(
        "--heartbeat",
        type=COUNT,
        default=10,
        help="seconds between a running trial's heartbeats in an RDB storage; after two missed, its trial "
        "is marked failed (default 10)",
    )
    p.add_argument("--quiet", action="store_true")
    _add_data_args(p)
    p.set_defaults(func=cmd_tune)


SUBCOMMANDS = (
    _list_parser,
    _check_parser,
    _summary_parser,
    _train_parser,
    _eval_parser,
    _report_parser,
    _record_parser,
    _export_parser,
    _publish_parser,
    _quantize_parser,
    _data_parser,
    _inspect_parser,
    _tune_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoo", description="A constraint-checked zoo of MNIST models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        exit_code = _run(args)
    finally:
        left_group = _leave_process_group()
    if left_group:  # a torchrun rank: see zoo.train.distributed.end_rank
        from zoo.train.distributed import end_rank

        end_rank(exit_code)
    return exit_code


def _run(args: argparse.Namespace) -> int:
    """The subcommand's exit code; every error it raises as one line (a traceback only with --debug)."""
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
        if str(exc):  # a failed rank that already said why leaves the launcher nothing to add
            print(f"{who}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_ERROR)
    except KeyboardInterrupt:
        print(f"{who}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user's mistake: still one line, the traceback with --debug
        if args.debug:
            raise
        text = str(exc).strip()
        line = f"internal error: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        if not _kept_for_launcher(line):
            print(f"{who}: {line} (zoo --debug ... shows the traceback)", file=sys.stderr)
        return EXIT_ERROR


def _kept_for_launcher(line: str) -> bool:
    if "torch.distributed" not in sys.modules:
        return False
    from zoo.train.distributed import report_rank_error

    return report_rank_error(line)


def _leave_process_group() -> bool:
    if "torch.distributed" not in sys.modules:
        return False
    from zoo.train.distributed import leave

    return leave()


if __name__ == "__main__":
    sys.exit(main())
