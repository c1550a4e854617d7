"""How long `monitor` takes to start: wall time of whole processes, as a user waits for them.

Each case runs the console script's code (`from monitor.cli import main`) in a fresh
interpreter; the cases go in rounds so that every case sees the same stretch of a shared
machine. `stats` runs on an empty database in a temporary folder (made once, untimed).

    .venv/bin/python bench/startup.py [--rounds 10] [--src PATH ...]

--src times other checkouts of the code (e.g. a git worktree of an older commit) with this
interpreter, each in the same rounds, one table each. Target (issue #15): `monitor --help`
<= 300 ms on the project machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The console script's code, so that no wrapper is timed alongside.
ENTRY = "import sys; from monitor.cli import main; sys.argv[0] = 'monitor'; sys.exit(main())"
CASES = [
    ["--help"],
    ["rules", "--help"],
    ["feeds", "--help"],
    ["search", "--help"],
    ["rules", "check", "--help"],
    ["stats", "--config", "config.toml"],
]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"monitor {' '.join(args)} failed ({result.returncode}):\n"
                         f"{result.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--src", type=Path, action="append",
                        help="checkout to time (repeatable; default: this one)")
    options = parser.parse_args()
    sources = [src.resolve() for src in options.src or [REPO]]
    envs = {src: dict(os.environ, PYTHONPATH=str(src)) for src in sources}
    times = {src: {" ".join(case): [] for case in CASES} for src in sources}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "config.toml").write_text('[database]\npath = "monitor.db"\n')
        run(["feeds", "list", "--config", "config.toml"], work, envs[sources[0]])  # the database
        for _ in range(options.rounds):
            for case in CASES:
                for src in sources:
                    times[src][" ".join(case)].append(run(case, work, envs[src]))
    width = len("monitor ") + max(len(" ".join(case)) for case in CASES)
    for src in sources:
        print(f"\n{src}: {options.rounds} rounds, Python {sys.version.split()[0]}")
        print(f"{'command':<{width}}  {'median':>8}  {'min':>8}  {'max':>8}")
        for name, samples in times[src].items():
            ms = [s * 1000 for s in samples]
            print(f"{'monitor ' + name:<{width}}  {statistics.median(ms):>6.0f}ms  "
                  f"{min(ms):>6.0f}ms  {max(ms):>6.0f}ms")


if __name__ == "__main__":
    main()
