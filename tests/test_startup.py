"""`monitor --help` (and every command's --help) imports no engine, store, feed, network or
scheduler code: importing them made the help take 0.9 s (issue #15, "Start fast").

Checked by what a fresh interpreter has imported, not with a clock, so that a busy machine
cannot make it fail; bench/startup.py has the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Modules (and their submodules) that only running a command needs.
HEAVY = ("telegram", "apscheduler", "feedparser", "httpx", "lxml", "trafilatura", "numpy",
         "sqlite_utils", "monitor.store", "monitor.matching", "monitor.pipeline",
         "monitor.service", "monitor.ingest", "monitor.digest", "monitor.summarize",
         "monitor.deliver.senders", "monitor.deliver.outbox", "monitor.deliver.bot")

# What the console script does (`monitor = "monitor.cli:main"`), then the imported modules.
PROBE = """
import json, sys
from monitor.cli import main
sys.argv[0] = "monitor"
try:
    main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def probe(tmp_path: Path, *args: str) -> tuple[int, list[str], str, str]:
    report = tmp_path / "modules.json"
    result = subprocess.run([sys.executable, "-c", PROBE, str(report), *args], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    data = json.loads(report.read_text())
    return data["code"], data["modules"], result.stdout, result.stderr


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["rules", "--help"], ["feeds", "--help"], ["search", "--help"],
    ["run", "--help"], ["stats", "--help"], ["digest", "--help"], ["rules", "explain", "-h"],
    ["feeds", "import-opml", "--help"],
])
def test_help_imports_nothing_heavy(tmp_path, args):
    code, modules, out, err = probe(tmp_path, *args)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: monitor ")
    assert heavy(modules) == []


def test_help_lists_every_command(tmp_path):
    _, _, out, _ = probe(tmp_path, "--help")
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines()]
    assert listed == ["backup", "digest", "feeds", "ingest", "rules", "run", "search", "stats",
                      "summarize"]


@pytest.mark.parametrize("args, message", [
    (["summarize", "--sentences", "many"], "'many' is not a valid integer"),
    (["feeds", "add"], "Missing argument 'URL'"),
    (["nonsense"], "No such command 'nonsense'"),
])
def test_a_usage_error_imports_nothing_heavy(tmp_path, args, message):
    code, modules, _, err = probe(tmp_path, *args)
    assert code == 2 and message in err
    assert heavy(modules) == []


def test_a_command_imports_what_it_uses_and_store_errors_stay_one_line(tmp_path):
    """The probe does see imports made inside a command (so the tests above are not empty),
    and MonitorGroup still turns a StoreError from a lazily imported store into one line."""
    code, modules, out, err = probe(tmp_path, "stats")
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and "no database here yet" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "monitor.store" in modules and "sqlite_utils" in modules
