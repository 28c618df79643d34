"""`veche budget outcome`: the outcome of a Pabulib election under Veche's budget rules.

Reads a ``.pb`` file (approval ballots, https://pabulib.org/format), runs greedy or the Method
of Equal Shares (``ranking.budgets``) and prints the outcome as JSON, so anyone can check Veche
against Pabulib's published outcomes and against ``pabutools``.  ``register`` adds the command
to the ``veche`` parser (``webapp/cli.py``); ``main`` runs it on its own
(``python -m webapp.budget_cli outcome FILE.pb``).  Problems the user can fix print one line
and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RULES = ("greedy", "equal-shares")
COMPLETIONS = ("add1-greedy", "add1", "none")
TIES = ("id", "cost")
PROGRESS_AFTER_S = 1.0


class BudgetCliError(Exception):
    """A problem with the command's input; printed as one line, exit status 2."""


class _Progress:
    """Notes on standard error, only once the command has run for a second."""

    def __init__(self, quiet: bool) -> None:
        self.start = time.perf_counter()
        self.quiet = quiet

    def note(self, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        if not self.quiet and elapsed >= PROGRESS_AFTER_S:
            print(f"veche: {elapsed:.1f} s: {message}", file=sys.stderr, flush=True)


def outcome(
    path: Path,
    rule: str,
    completion: str = "add1-greedy",
    ties: str = "id",
    exact: bool = False,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """The outcome of the election in ``path`` under ``rule``, as the JSON object printed.

    Ties between projects go to the smaller project id as a string (``ties="id"``,
    pabutools' default) or to the cheaper project, then the smaller id (``"cost"``, as
    Warsaw breaks them).
    """
    import numpy as np

    from ranking.budgets import equal_shares, greedy, lexicographic_rank
    from ranking.pabulib import parse_pb

    if rule not in RULES:
        raise BudgetCliError(f"unknown rule {rule!r} (choose one of: {', '.join(RULES)})")
    if completion not in COMPLETIONS:
        raise BudgetCliError(
            f"unknown completion {completion!r} (choose one of: {', '.join(COMPLETIONS)})"
        )
    if ties not in TIES:
        raise BudgetCliError(f"unknown tie-break {ties!r} (choose one of: {', '.join(TIES)})")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BudgetCliError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BudgetCliError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise BudgetCliError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        election = parse_pb(text)
    except ValueError as exc:
        raise BudgetCliError(f"{path}: not a Pabulib approval election: {exc}") from None
    n_voters, n_projects = election.ballots.shape
    note = progress.note if progress is not None else (lambda message: None)
    note(f"read {n_voters:,} voters and {n_projects:,} projects")
    rank = lexicographic_rank(election.project_ids)
    if ties == "cost":
        order = np.lexsort((rank, election.costs))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
    if rule == "greedy":
        result = greedy(election.costs, election.ballots, election.budget, tie_rank=rank)
    else:
        result = equal_shares(
            election.costs,
            election.ballots,
            election.budget,
            completion=completion,  # type: ignore[arg-type]  # checked above
            tie_rank=rank,
            exact=exact,
            on_run=lambda i, per_voter: note(f"equal shares, run {i}, {per_voter:,.2f} per voter"),
        )
    return {
        "rule": rule,
        "completion": completion if rule == "equal-shares" else None,
        "selected": [election.project_ids[j] for j in result.selected.tolist()],
        "total_cost": result.total_cost,
        "budget": election.budget,
        "voters": n_voters,
        "projects": n_projects,
    }


def cmd_budget_outcome(args: argparse.Namespace) -> int:
    """Print the outcome as JSON; one line on standard error and status 2 on bad input."""
    try:
        result = outcome(
            Path(args.file),
            args.rule,
            args.completion,
            args.ties,
            exact=args.exact,
            progress=_Progress(args.quiet),
        )
    except BudgetCliError as exc:
        print(f"veche: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _add_outcome(sub: Any) -> None:
    p = sub.add_parser(
        "outcome",
        help="the outcome of a Pabulib .pb election under greedy or equal shares, as JSON",
        description="Read a Pabulib .pb file (approval ballots) and print, as JSON, the "
        "projects the rule funds (ids as in the file, in file order), their total cost, the "
        "budget and the numbers of voters and projects. greedy: by approvals within the "
        "budget; equal-shares: the Method of Equal Shares with cost utilities and a "
        "completion (default add1-greedy, as Wieliczka). A bad file, or an unknown rule, "
        "exits with status 2 and one line naming the problem.",
    )
    p.add_argument("file", metavar="FILE.pb", help="a Pabulib file with approval votes")
    p.add_argument("--rule", required=True, metavar="|".join(RULES), help="the budget rule")
    p.add_argument(
        "--completion",
        default="add1-greedy",
        metavar="|".join(COMPLETIONS),
        help="how equal shares spends what it leaves (default %(default)s)",
    )
    p.add_argument(
        "--ties",
        default="id",
        metavar="|".join(TIES),
        help="equal votes or payments: smaller project id first (default, as pabutools) or "
        "cheaper first (as Warsaw)",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="raise equal shares' endowment one unit at a time instead of searching (slow)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress notes on standard error")
    p.set_defaults(func=cmd_budget_outcome)


def register(sub: Any) -> None:
    """Add ``budget outcome`` to the subcommands ``sub`` of the ``veche`` parser."""
    budget = sub.add_parser("budget", help="participatory-budget outcomes of Pabulib files")
    bsub = budget.add_subparsers(dest="budget_command", required=True, metavar="ACTION")
    _add_outcome(bsub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``budget`` on its own: ``python -m webapp.budget_cli outcome FILE.pb --rule ...``."""
    parser = argparse.ArgumentParser(prog="veche budget")
    _add_outcome(parser.add_subparsers(dest="budget_command", required=True, metavar="ACTION"))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
