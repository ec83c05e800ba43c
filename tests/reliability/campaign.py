"""Run the fault-injection campaign and print its figures: `python -m tests.reliability.campaign`.

Exit status 1 when an invariant was broken (the problems are listed under the table).
"""

from __future__ import annotations

import argparse
import sys

from tests.reliability.harness import CampaignSpec, run_campaign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dispatchers", type=int, default=10, help="parallel dispatcher rounds, at most")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON ('-' for stdout)")
    parser.add_argument(
        "--progress",
        type=int,
        default=300,
        metavar="S",
        help="a progress line every S simulated seconds (0: none)",
    )
    args = parser.parse_args(argv)
    figures = run_campaign(
        CampaignSpec(
            queries=args.queries,
            seed=args.seed,
            max_dispatchers=args.dispatchers,
            progress_every_s=args.progress,
        )
    )
    if args.json == "-":
        print(figures.to_json())
    else:
        print(figures.table())
        print(
            f"\naccepted {figures.accepted}, terminal {figures.terminal}, counters match the ledger: "
            f"{figures.counters_match}, start calls after a permanent error: {figures.permanent_retried}, "
            f"worst claim vs effective limit: {figures.claim_overshoot:+d}"
        )
        print(f"handler invocations that raised (SQS delivers again): {figures.handler_errors}")
        print(f"simulated {figures.simulated_s} s in {figures.wall_s} s")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                out.write(figures.to_json() + "\n")
    for problem in figures.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if figures.problems else 0


if __name__ == "__main__":
    sys.exit(main())
