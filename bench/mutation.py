"""Mutation testing of the money rules (issue 14): mutmut on each module, its score, and the survivors.

    nice -n 15 .venv/bin/python bench/mutation.py [MODULE ...] [--max-children 2] [--head] [--report]

MODULE is one of money, balances, links, batches, payments (all by default), run one after the
other. mutmut (configured in pyproject.toml, [tool.mutmut]) copies the project into mutants/ and
runs, for each mutant, the selected tests that reach its function. `--report` runs nothing and
reports the last results kept in mutants/. `--head` runs on the last commit instead of the working
tree (a clean export in var/mutation/, its own mutants/ inside): what a shared working tree holds
half-done (someone else's edit in progress) then cannot fail the run.

A module's score is killed / (mutants - equivalent): a surviving mutant counts against it unless
bench/mutation_equivalents.md lists it with the reason it cannot be told apart from the code.
Every survivor not on that list is printed: a missing test, or a list to bring up to date.
Not a test and not part of .ci/run: a run takes minutes (the README has the figures).
"""
from __future__ import annotations

import argparse
import fnmatch
import io
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.md"

# The functions of each module the issue names (mutmut's names: x_FUNCTION, xǁCLASSǁMETHOD).
MODULES = {
    "money": ["pops.money.*"],
    "balances": ["pops.balances.*"],
    "links": ["pops.links.*"],
    "batches": [  # the amounts and rows of a batch and its export
        f"pops.batches.{name}__mutmut_*" for name in (
            "x_local_date", "x__status_after", "x__post_date", "x__application_text",
            "x__split_refund_applications", "x_build_rows", "x__unbatched_declines", "x_totals",
            "x_fingerprint", "xǁTotalsǁ*", "xǁPaymentRowǁcsv_values",
        )
    ],
    "payments": [  # the chosen amount, applications oldest first, refunds
        "pops.payments.starting.x_chosen_amount__mutmut_*",
        "pops.payments.settling.x_apply_oldest_first__mutmut_*",
        "pops.payments.refunds.*",
    ],
}
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def equivalents() -> dict[str, str]:
    """The listed equivalent mutants: a line `- pops.money.x_name__mutmut_3: why`."""
    found = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"- `?([\w.ǁ]+__mutmut_\d+)`?: (.+)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def export_head() -> Path:
    """The last commit's files in var/mutation/ (its mutants/ kept from run to run while the commit is the same)."""
    where = ROOT / "var" / "mutation"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    if (where / ".commit").exists() and (where / ".commit").read_text() == commit:
        return where
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    (where / ".commit").write_text(commit)
    return where


def results(where: Path) -> dict[str, str]:
    """Every mutant's status from the last runs kept in WHERE/mutants/."""
    out = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=where, capture_output=True, text=True, check=True)
    return dict(line.strip().rsplit(": ", 1) for line in out.stdout.splitlines() if ": " in line)


def report(module: str, statuses: dict[str, str], listed: dict[str, str]) -> bool:
    mine = {k: v for k, v in statuses.items() if any(fnmatch.fnmatch(k, p) for p in MODULES[module])}
    killed = sum(v in KILLED for v in mine.values())
    survivors = sorted(k for k, v in mine.items() if v not in KILLED)
    equivalent = [k for k in survivors if k in listed]
    unexplained = [k for k in survivors if k not in listed]
    counted = len(mine) - len(equivalent)
    score = killed / counted if counted else 0.0
    raw = killed / len(mine) if mine else 0.0
    print(f"{module:9} {len(mine):4} mutants  {killed:4} killed  {len(equivalent):3} equivalent  "
          f"{len(unexplained):3} not explained  score {score:6.1%}  (killed / all: {raw:.1%})")
    for name in unexplained:
        print(f"    {mine[name]:12} {name}")
    stale = [k for k, v in mine.items() if k in listed and v in KILLED]
    for name in stale:
        print(f"    listed as equivalent but killed now: {name}")
    return not unexplained and score >= 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--head", action="store_true", help="run on the last commit, not the working tree")
    parser.add_argument("--report", action="store_true", help="report the last results, run nothing")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; one of {', '.join(MODULES)}")
    where = export_head() if args.head else ROOT
    took = {}
    (where / "mutants").mkdir(exist_ok=True)
    if not args.report:
        for module in modules:
            started = time.monotonic()
            with open(where / "mutants" / f"bench-{module}.log", "w") as log:  # mutmut's own output
                subprocess.run([*MUTMUT, "run", "--max-children", str(args.max_children), *MODULES[module]],
                               cwd=where, stdout=log, stderr=subprocess.STDOUT, check=True)
            took[module] = time.monotonic() - started
    statuses, listed = results(where), equivalents()
    print()
    ok = all([report(module, statuses, listed) for module in modules])
    if took:
        print("run times: " + ", ".join(f"{m} {s / 60:.1f} min" for m, s in took.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
