"""Reading results: finished runs, the leaderboard and README table, data and run inspection."""

from zoo.report.explore import explore_data, inspect_run
from zoo.report.leaderboard import LeaderboardRow, leaderboard, markdown_table, pareto_front, recipe_changes
from zoo.report.ledger import read_ledger, record_run
from zoo.report.pages import README_END, README_START, page_tables, rewrite_pages, write_report
from zoo.report.runs import FinishedRun, find_runs, read_finished_run

__all__ = [
    "README_END",
    "README_START",
    "FinishedRun",
    "LeaderboardRow",
    "explore_data",
    "find_runs",
    "inspect_run",
    "leaderboard",
    "markdown_table",
    "page_tables",
    "pareto_front",
    "read_finished_run",
    "read_ledger",
    "recipe_changes",
    "record_run",
    "rewrite_pages",
    "write_report",
]
