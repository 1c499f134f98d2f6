"""The `zoo` command. Every user mistake ends in one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

EXIT_ERROR, EXIT_USAGE = 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage block."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder with the MNIST IDX files (default: $ZOO_DATA_DIR or the user cache)")
    p.add_argument("--no-download", action="store_true", help="never try to download missing files")


def _load_data(args):
    from zoo.data import load_mnist

    return load_mnist(args.data_dir, download=not args.no_download)


def cmd_list(args) -> int:
    from zoo.catalog import model_table

    rows = model_table(args.pattern)
    header = ("model", "params", "MACs", "constraints", "check")
    cells = [header] + [
        (r["name"], f"{r['params']:,}", f"{r['macs']:,}", ", ".join(r["constraints"]), r["check"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for i, row in enumerate(cells):
        print(
            "  ".join(c.rjust(w) if j in (1, 2) else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0 if all(r["check"] == "pass" for r in rows) else EXIT_ERROR


def cmd_summary(args) -> int:
    from torchinfo import summary

    import zoo

    model = zoo.create_model(args.name)
    print(summary(model, input_size=(1, 1, 28, 28), col_names=("output_size", "num_params", "mult_adds"), verbose=0))
    for result in zoo.check_model(model, zoo.get_spec(args.name).constraints):
        print(result)
    return 0


def _recipe(args):
    import zoo
    from zoo.recipe import load_overrides

    overrides = load_overrides(args.recipe) if args.recipe else {}
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "train_samples": args.train_samples}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    return zoo.get_spec(args.name).recipe.replace(**overrides)


def cmd_train(args) -> int:
    import zoo
    from zoo.errors import ZooError
    from zoo.train import train

    spec = zoo.get_spec(args.name)  # an unknown name fails before the data loads
    recipe = _recipe(args)
    if args.resume:
        given = [f for f in ("epochs", "batch_size", "lr", "train_samples", "recipe", "out") if getattr(args, f)]
        if given or args.seeds != 1 or args.seed != 0 or args.overwrite:
            flags = ", ".join("--" + f.replace("_", "-") for f in given) or "--seed/--seeds/--overwrite"
            raise ZooError(f"--resume continues the run's saved recipe and seed; drop {flags}")
    data = _load_data(args)
    progress = not args.quiet
    if args.resume:
        results = [
            train(spec.name, recipe, data, Path(args.resume), device=args.device, resume=True, progress=progress)
        ]
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(args.out) if args.out else Path("runs") / spec.name / stamp
        seeds = range(args.seed, args.seed + args.seeds)
        results = []
        for seed in seeds:
            run_dir = base if args.seeds == 1 else base / f"seed{seed}"
            results.append(
                train(
                    spec.name,
                    recipe,
                    data,
                    run_dir,
                    seed=seed,
                    device=args.device,
                    overwrite=args.overwrite,
                    progress=progress,
                )
            )
            r = results[-1]
            print(
                f"{spec.name} seed {seed}: test accuracy {r['test']['accuracy']:.4%}, macro F1 "
                f"{r['test']['macro_f1']:.4f}, AUROC {r['test']['auroc']:.5f}, {r['epochs']} epochs in "
                f"{r['train_seconds']:.0f}s ({r['train_images_per_s']:,.0f} img/s) -> {run_dir}"
            )
    accs = [r["test"]["accuracy"] for r in results]
    mean = statistics.fmean(accs)
    spread = f" +- {statistics.stdev(accs):.4%} over {len(accs)} seeds" if len(accs) > 1 else ""
    verdict = "meets" if mean >= spec.target_accuracy else "MISSES"
    print(f"{spec.name}: test accuracy {mean:.4%}{spread}; {verdict} the target {spec.target_accuracy:.2%}")
    return 0


def cmd_eval(args) -> int:
    import zoo
    from zoo.artifacts import load_weights
    from zoo.evaluate import predict, test_metrics

    model, sidecar = load_weights(args.checkpoint, zoo.create_model)
    data = _load_data(args)
    metrics = test_metrics(predict(model, data.test_x), data.test_y)
    print(
        f"{sidecar['model']}: test accuracy {metrics['accuracy']:.4%}, macro F1 {metrics['macro_f1']:.4f}, "
        f"AUROC {metrics['auroc']:.5f} on {metrics['samples']:,} images"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zoo", description="A constraint-checked zoo of MNIST models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="registered models with params, MACs and constraint checks")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch filter, e.g. 'tiny-*'")
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
    _data_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="re-evaluate saved weights on the test set")
    p.add_argument("checkpoint", help="a run directory or a .safetensors file")
    _data_args(p)
    p.set_defaults(func=cmd_eval)

    from zoo.report_cli import add_report_commands

    add_report_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from zoo.errors import ZooError
    from zoo.train import Interrupted

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Interrupted as exc:
        print(f"zoo: {exc}", file=sys.stderr)
        return exc.exit_code
    except ZooError as exc:
        if args.debug:
            raise
        print(f"zoo: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
