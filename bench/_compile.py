"""The compiler benchmark: ``wf.compiler.build_tree`` over a generated package and over
wf's own sources (lines per second; informational, the design sets no budget)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench._cases import ROOT, Scratch, figure

__all__ = ["bench_compile"]


_MODULE = '''\
"""Generated module {i} for the compiler benchmark."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import wf


@dataclass
class Order{i}:
    id: str
    total: int
    items: list[str]


def price(items: list[str]) -> int:
    return sum(len(item) * 100 for item in items)


async def load_order(order_id: str) -> dict:
    "use step"
    await asyncio.sleep(0)
    return {{"id": order_id, "total": 4200, "items": ["a", "b"]}}


@wf.options(max_attempts=5, backoff="exponential", initial_interval="1s", timeout="30s")
async def charge(order_id: str, amount: int) -> str:
    "use step"
    if random.random() < 0:
        raise wf.RetryableError("declined", retry_after="5s")
    return f"ch_{{order_id}}_{{amount}}"


async def reserve(items: list[str]) -> bool:
    "use step"
    return bool(items)


def audit(message: str) -> None:
    "use step"
    print(message)


async def process_order(order_id: str) -> dict:
    "use workflow"
    started = time.time()
    order = await load_order(order_id)
    payment, stock = await asyncio.gather(charge(order_id, order["total"]), reserve(order["items"]))
    if not stock:
        await audit(f"no stock for {{order_id}}")
        return {{"ok": False}}
    tries = 0
    while tries < 3:
        tries += 1
        if random.random() < 0.5:
            break
        await wf.sleep("1 minute")
    await audit(f"order {{order_id}} paid with {{payment}}")
    return {{"ok": True, "payment": payment, "took": time.time() - started, "tries": tries}}


@wf.options(version="v2", timeout="1h")
async def batch_orders(order_ids: list[str]) -> list[dict]:
    "use workflow"
    results = []
    for chunk_start in range(0, len(order_ids), 10):
        chunk = order_ids[chunk_start : chunk_start + 10]
        results += await asyncio.gather(*(process_order(o) for o in chunk))
    await wf.sleep(5)
    return results


class Helper{i}:
    def __init__(self, scale: int) -> None:
        self.scale = scale

    def apply(self, value: int) -> int:
        return value * self.scale

    def describe(self) -> str:
        return f"Helper{i}(scale={{self.scale}})"
'''


_PLAIN = '''\
"""Generated helper module {i} (no directives) for the compiler benchmark."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Record{i}:
    key: str
    values: list[int] = field(default_factory=list)

    def total(self) -> int:
        return sum(self.values)

    def to_json(self) -> str:
        return json.dumps({{"key": self.key, "values": self.values}})


def parse(text: str) -> Record{i}:
    data = json.loads(text)
    return Record{i}(data["key"], list(data.get("values", [])))


def merge(records: list[Record{i}]) -> dict[str, int]:
    out: dict[str, int] = {{}}
    for record in records:
        out[record.key] = out.get(record.key, 0) + record.total()
    return out


def window(values: list[int], size: int) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class Cache{i}:
    def __init__(self) -> None:
        self._data: dict[str, object] = {{}}

    def get(self, key: str, default: object = None) -> object:
        return self._data.get(key, default)

    def put(self, key: str, value: object) -> None:
        self._data[key] = value
'''


def _generate_tree(root: Path, modules: int) -> Path:
    """A package of ``modules`` modules: half with workflows and steps, half plain helpers."""
    package = root / "src" / "benchapp"
    for group in range(modules // 20):
        directory = package / f"part{group}"
        directory.mkdir(parents=True)
        (directory / "__init__.py").write_text("")
        for j in range(20):
            i = group * 20 + j
            if j % 2 == 0:
                (directory / f"flows{j}.py").write_text(_MODULE.format(i=i))
            else:
                (directory / f"helpers{j}.py").write_text(_PLAIN.format(i=i))
    (package / "__init__.py").write_text(
        '"""Generated application for the compiler benchmark."""\n'
    )
    return package


def _count_lines(source: Path) -> tuple[int, int]:
    files = [p for p in source.rglob("*.py") if "__pycache__" not in p.parts]
    return len(files), sum(p.read_bytes().count(b"\n") for p in files)


def _build(source: Path, out: Path) -> tuple[float, Any]:
    from wf.compiler import build_tree

    t0 = time.perf_counter()
    result = build_tree([source], out)
    return time.perf_counter() - t0, result


async def bench_compile(quick: bool, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    modules = 20 if quick else 200
    scratch = Scratch()
    try:
        package = _generate_tree(scratch.path, modules)
        files, lines = _count_lines(package)
        _build(package / "part0" / "flows0.py", scratch.path / "warm")  # imports libcst
        elapsed, result = _build(package, scratch.path / "out")
        errors = [str(d) for d in result.errors][:5]
        wf_src = ROOT / "wf"
        wf_files, wf_lines = _count_lines(wf_src)
        wf_elapsed, wf_result = _build(wf_src, scratch.path / "wf-out")
    finally:
        scratch.cleanup()
    return [
        figure(
            "compile_lines_per_s",
            lines / elapsed,
            "lines/s",
            "informational (no budget in the design)",
            files=files,
            lines=lines,
            compiled_files=len(result.compiled),
            ms_per_compiled_file=elapsed / max(1, len(result.compiled)) * 1e3,
            manifest_entries=len(result.manifest),
            written=result.written,
            errors=errors,
            wall_s=elapsed,
        ),
        figure(
            "compile_wf_sources_lines_per_s",
            wf_lines / wf_elapsed,
            "lines/s",
            "informational: wf's own sources, without directives (byte pre-filter, copied as is)",
            files=wf_files,
            lines=wf_lines,
            compiled_files=len(wf_result.compiled),
            wall_s=wf_elapsed,
        ),
    ]
