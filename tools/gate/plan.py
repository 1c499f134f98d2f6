"""The full accuracy gate as a job matrix: one (model, seed) per job, each sized to fit a hosted runner.

    python -m tools.gate.plan [-k WORD]    # prints {"include": [{"model", "seed", "minutes"}, ...]}

`minutes` is the job's timeout: one and a half times the spec's expected minutes for one seed on a
2-core CPU, plus a quarter hour for set-up, never beyond the 360 minutes a GitHub-hosted job may
run; a model whose one seed could not finish in a hosted job at all is refused.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import zoo

HOSTED_LIMIT = 360
SETUP = 15  # minutes to install torch and the zoo and fetch MNIST


def plan(word: str = "") -> list[dict]:
    jobs = []
    for name in zoo.list_models():
        if word not in name:
            continue
        gate = zoo.get_spec(name).gate
        minutes = min(HOSTED_LIMIT, math.ceil(1.5 * gate.cpu_minutes) + SETUP)
        jobs += [{"model": name, "seed": seed, "minutes": minutes} for seed in range(gate.seeds)]
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="word", default="", help="only the models whose name contains this")
    args = parser.parse_args(argv)
    jobs = plan(args.word)
    too_long = [j["model"] for j in jobs if zoo.get_spec(j["model"]).gate.cpu_minutes + SETUP > HOSTED_LIMIT]
    if too_long:
        print(f"plan: {', '.join(sorted(set(too_long)))} cannot finish a seed within a hosted job", file=sys.stderr)
        return 1
    print(json.dumps({"include": jobs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
