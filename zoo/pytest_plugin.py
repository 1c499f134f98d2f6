"""A pytest plugin (entry point `pytest11`): the fixture `zoo_check` holds a project's own model to
the zoo's constraints in one line of its test suite.

    def test_my_model_meets_the_course_rules(zoo_check):
        zoo_check(Net(), max_params=20_000, batchnorm=True, dropout=True, gap=True, no_fc=True)

The test fails with the verdict's table (each measured value beside its limit) when any constraint
fails; `like="gapnet"` starts from a registered model's constraints. Loading the plugin imports
the zoo (and torch) once per pytest session; the checks run only where the fixture is used.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def zoo_check():
    """`zoo_check(model_or_builder, **flags)`: the `zoo check` verdict, the test failed on a FAIL."""
    from torch import nn

    from zoo import checker

    def check(model, *, target: str | None = None, **flags) -> checker.Verdict:
        name = target or type(model).__name__
        if not isinstance(model, nn.Module):
            model = checker.build(model, name)
        verdict = checker.check(model, checker.constraints_from(**flags), name)
        if not verdict.passed:
            pytest.fail(verdict.text(), pytrace=False)
        return verdict

    return check
