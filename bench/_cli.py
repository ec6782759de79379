"""CLI start-up: ``wf --help`` and ``wf runs list`` in fresh processes (budget ≤ 0.25 s),
against ``python -c pass`` measured in the same run as the reference; and, with no
budget, ``wf runs show --limit 0`` of a run of about 5,000 events."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import wf
from bench._cases import Scratch, _sig, figure  # installs the import hook bench.flows needs
from bench.flows import seq, three_steps

__all__ = ["bench_cli"]

BUDGET_S = 0.25


def _wf_command() -> list[str]:
    # The console script users type; ``python -m wf.cli`` where it is not installed.
    script = Path(sys.executable).with_name("wf")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "wf.cli"]


def _time(command: list[str], env: dict[str, str], samples: int) -> list[float]:
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the OS caches
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def _imports_libcst(command: list[str], env: dict[str, str]) -> bool:
    """Whether the command imports LibCST (it must not: README, "CLI")."""
    done = subprocess.run(
        command, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True
    )
    return any(line.rstrip().endswith("| libcst") for line in done.stderr.splitlines())


async def bench_cli(quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    samples = 5 if quick else 15
    scratch = Scratch()
    env = {k: v for k, v in os.environ.items() if k != "WF_DATABASE_URL"}
    try:
        url = scratch.url()
        async with wf.Engine(url) as engine:  # 20 runs for `wf runs list` to show
            for _ in range(20):
                await (await engine.start(three_steps)).result(timeout=60)
            big = await engine.start(seq, 2_500)  # run_started, 2 x 2,500, run_completed
            await big.result(timeout=120)
        arguments = {"cli_help_s": ["--help"], "cli_runs_list_s": ["runs", "list", "--db", url]}
        commands = {name: [*_wf_command(), *args] for name, args in arguments.items()}
        show = [*_wf_command(), "runs", "show", big.id, "--limit", "0", "--db", url]
        python = _time([sys.executable, "-c", "pass"], env, samples)
        measured = {name: _time(command, env, samples) for name, command in commands.items()}
        libcst = {name: _imports_libcst(command, env) for name, command in commands.items()}
        shown = _time(show, env, max(3, samples // 3))
    finally:
        scratch.cleanup()
    reference = statistics.median(python)
    figures = []
    for name, times in measured.items():
        value = statistics.median(times)
        figures.append(
            figure(
                name,
                value,
                "s",
                "≤ 0.25 s",
                ok=value <= BUDGET_S,
                ratio=value / BUDGET_S,
                reference={"python_c_pass_s": _sig(reference)},
                ratio_is="value / budget",
                command=" ".join(["wf", *arguments[name]]),
                over_python_s=value - reference,
                times_python=value / reference,
                imports_libcst=libcst[name],
                bytecode_cache=not sys.dont_write_bytecode,
                samples_s=[_sig(x) for x in times],
            )
        )
    figures.append(
        figure(
            "cli_runs_show_5000_events_s",
            statistics.median(shown),
            "s",
            "informational (every event of a 5,002-event run printed)",
            reference={"python_c_pass_s": _sig(reference)},
            command="wf runs show RUN --limit 0",
            samples_s=[_sig(x) for x in shown],
        )
    )
    return figures
