"""The pull-request gate: the head against its merge base, measured in one job on one machine.

`python -m tools.pr --base REF` describes the registered models of both commits, retrains the
models the pull request changed or added, counts the benchmark rows' instructions of both trees
under one Valgrind, and writes a markdown summary; CI's workflow only calls it.
"""
