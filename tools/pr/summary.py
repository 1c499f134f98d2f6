"""The reviewer's page: the gate's findings as markdown (the job summary and an artifact)."""

from __future__ import annotations

from dataclasses import dataclass

from tools.bench.count_gate import RowVerdict
from tools.pr.bench import WallRow
from tools.pr.models import ModelChange, ModelVerdict


@dataclass(frozen=True)
class Findings:
    base: str
    head: str
    changes: tuple[ModelChange, ...]
    verdicts: tuple[ModelVerdict, ...]
    counts: tuple[RowVerdict, ...] | None  # None: not counted (no counter in the base, or --no-bench)
    wall: tuple[WallRow, ...] | None
    unchanged: int  # models the pull request left alone

    @property
    def failures(self) -> list[str]:
        """One line per reason the pull request fails."""
        out = [f"{v.name}: {_accuracy(v)} below {v.against}" for v in self.verdicts if not v.passed]
        for change in self.changes:
            for check in (change.head or {}).get("checks", []):
                if not check["passed"]:
                    out.append(f"{change.name}: constraint failed: {check['message']}")
        out += [f"benchmark {row.line.split(None, 1)[1]}" for row in self.counts or () if row.verdict == "slower"]
        return out


def render(findings: Findings) -> str:
    failures = findings.failures
    verdict = "pass" if not failures else f"FAIL ({len(failures)})"
    lines = [
        f"## Pull-request gate: {findings.head[:10]} against its merge base {findings.base[:10]}: {verdict}",
        "",
        *(f"- {line}" for line in failures),
        "",
        *_models(findings),
        "",
        *_counts(findings.counts),
        "",
        *_wall(findings.wall),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _models(findings: Findings) -> list[str]:
    head = (
        f"### Models: {len(findings.changes)} changed, new or removed; {findings.unchanged} unchanged (not retrained)"
    )
    if not findings.changes:
        return [head]
    verdicts = {v.name: v for v in findings.verdicts}
    rows = [
        head,
        "",
        "| model | change | params | MACs | constraints | retrained | test accuracy | must reach | verdict |",
        "|---|---|--:|--:|---|---|--:|---|---|",
    ]
    for change in findings.changes:
        v = verdicts.get(change.name)
        cells = [
            change.name,
            change.status + (f": {', '.join(change.reasons)}" if change.reasons else ""),
            _before_after(change, "params"),
            _before_after(change, "macs"),
            _constraints(change.head),
            _mode(v),
            _accuracy(v) if v else "",
            "" if v is None or v.bar is None else f"{v.bar:.2%} ({v.against})",
            "" if v is None else ("pass" if v.passed else "**FAIL**") if v.bar is not None else v.against,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows + [line for change in findings.changes for line in _checks(change)]


def _checks(change: ModelChange) -> list[str]:
    """Every constraint's own message, folded under the table."""
    checks = (change.head or {}).get("checks", [])
    if not checks:
        return []
    lines = [f"- {'PASS' if c['passed'] else '**FAIL**'} {c['message']}" for c in checks]
    return [
        "",
        f"<details><summary>{change.name}: each constraint on the head's model</summary>",
        "",
        *lines,
        "</details>",
    ]


def _before_after(change: ModelChange, field: str) -> str:
    before = "-" if change.base is None else f"{change.base[field]:,}"
    after = "-" if change.head is None else f"{change.head[field]:,}"
    return before if before == after else f"{before} -> {after}"


def _constraints(head: dict | None) -> str:
    checks = (head or {}).get("checks", [])
    failed = [c["constraint"] for c in checks if not c["passed"]]
    if not checks:
        return ""
    return f"{len(checks)} pass" if not failed else "**FAIL** " + ", ".join(failed)


def _mode(v: ModelVerdict | None) -> str:
    if v is None:
        return ""
    return {"recipe": "recipe, seed 0", "quick": "quick gate, seed 0", "skipped": "no"}[v.mode]


def _accuracy(v: ModelVerdict | None) -> str:
    return "" if v is None or v.accuracy is None else f"{v.accuracy:.2%}"


def _counts(rows: tuple[RowVerdict, ...] | None) -> list[str]:
    if rows is None:
        return ["### Benchmarks: not counted"]
    out = [
        "### Benchmarks: instructions executed, base and head counted on this runner",
        "",
        "| row | base | head | change | allowed | verdict |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        base = "-" if row.baseline is None else f"{row.baseline:,}"
        change = "" if row.baseline is None else f"{row.count / row.baseline - 1:+.2%}"
        allowed = "" if row.limit is None else f"{row.limit:.1%}"
        verdict = {"slower": "**SLOWER**", "wide": "not gated (noisy)"}.get(row.verdict, row.verdict)
        out.append(f"| {row.name} | {base} | {row.count:,} | {change} | {allowed} | {verdict} |")
    return out


def _wall(rows: tuple[WallRow, ...] | None) -> list[str]:
    if rows is None:
        return []
    out = [
        "### Wall clock on this runner (reported, not gated): time per call over a reference convolution's",
        "",
        "| row | base | head | change |",
        "|---|--:|--:|--:|",
    ]
    out += [f"| {r.name} | {r.base:.3f} | {r.head:.3f} | {r.head / r.base - 1:+.1%} |" for r in rows]
    return out
