"""Every diagnostic code, where it points, and that all problems of a file come together."""

from __future__ import annotations

import textwrap

import pytest

import wf
from wf.compiler import CODES, Diagnostic, compile_source
from wf.compiler._diagnostics import compile_error
from wf.compiler._directives import mentions_directive, misspelled_directive


def diagnose(source: str) -> list[Diagnostic]:
    return compile_source(textwrap.dedent(source), module="m", path="m.py").diagnostics


def located(source: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.column) for d in diagnose(source)]


CASES = {
    "WF001 sync workflow": (
        """\
        def flow():
            "use workflow"
            return 1
        """,
        [("WF001", 1, 1)],
    ),
    "WF002 after a docstring": (
        """\
        async def step():
            \"\"\"Docs.\"\"\"
            "use step"
        """,
        [("WF002", 3, 5)],
    ),
    "WF002 in the module": (
        """\
        import os
        "use step"
        """,
        [("WF002", 2, 1)],
    ),
    "WF002 sharing its line": (
        """\
        async def step():
            "use step"; x = 1
            return x
        """,
        [("WF002", 2, 5)],
    ),
    "WF003 typo": (
        """\
        async def step():
            "use stpe"
        """,
        [("WF003", 2, 5)],
    ),
    "WF003 module": (
        """\
        "Use Step"
        async def step():
            pass
        """,
        [("WF003", 1, 1)],
    ),
    "WF004 async generator": (
        """\
        async def step():
            "use step"
            for i in range(3):
                yield i
        """,
        [("WF004", 4, 9)],
    ),
    "WF004 sync generator workflow": (
        """\
        def flow():
            "use step"
            x = yield
        """,
        [("WF004", 3, 9)],
    ),
    "WF005 time.sleep": (
        """\
        import time
        async def flow():
            "use workflow"
            time.sleep(1)
        """,
        [("WF005", 4, 5)],
    ),
    "WF005 aliased sleep": (
        """\
        from time import sleep as nap
        async def flow():
            "use workflow"
            x = 1; nap(1)
        """,
        [("WF005", 4, 12)],
    ),
    "WF006 open": (
        """\
        async def flow():
            "use workflow"
            with open("data.txt") as f:
                return f.read()
        """,
        [("WF006", 3, 10)],
    ),
    "WF006 pathlib": (
        """\
        import io
        from pathlib import Path
        async def flow():
            "use workflow"
            text = Path("a").read_text()
            Path.write_text(Path("b"), text)
            io.open("c")
        """,
        [("WF006", 5, 12), ("WF006", 6, 5), ("WF006", 7, 5)],
    ),
    "WF007 network": (
        """\
        import requests, socket
        from urllib.request import urlopen
        async def flow(url):
            "use workflow"
            requests.get(url)
            urlopen(url)
            socket.create_connection(("h", 1))
        """,
        [("WF007", 5, 5), ("WF007", 6, 5), ("WF007", 7, 5)],
    ),
    "WF008 threads and processes": (
        """\
        import os, subprocess, threading
        from concurrent.futures import ThreadPoolExecutor
        async def flow():
            "use workflow"
            threading.Thread(target=print).start()
            subprocess.run(["ls"])
            os.system("ls")
            ThreadPoolExecutor()
        """,
        [("WF008", 5, 5), ("WF008", 6, 5), ("WF008", 7, 5), ("WF008", 8, 5)],
    ),
    "WF009 OS randomness": (
        """\
        import os
        import secrets
        async def flow():
            "use workflow"
            return os.urandom(8), secrets.token_hex()
        """,
        [("WF009", 5, 12), ("WF009", 5, 27)],
    ),
    "WF010 method": (
        """\
        class Service:
            async def handle(self):
                "use step"
        """,
        [("WF010", 3, 9)],
    ),
    "WF010 nested": (
        """\
        async def outer():
            async def inner():
                "use workflow"
            return inner
        """,
        [("WF010", 3, 9)],
    ),
    "WF010 step nested in a plain function": (
        """\
        def outer():
            async def inner():
                "use step"
            return inner
        """,
        [("WF010", 3, 9)],
    ),
    "WF010 step nested in a helper of a workflow": (
        """\
        async def flow():
            "use workflow"
            def helper():
                async def inner():
                    "use step"
                return inner
            return helper
        """,
        [("WF010", 5, 13)],
    ),
    "WF013 nonlocal": (
        """\
        async def flow():
            "use workflow"
            total = 0
            async def add(n):
                "use step"
                nonlocal total
                total += n
            await add(1)
            return total
        """,
        [("WF013", 6, 9)],
    ),
    "WF013 step in a nested step": (
        """\
        async def flow():
            "use workflow"
            async def outer():
                "use step"
                async def inner():
                    "use step"
                return 1
            return await outer()
        """,
        [("WF013", 6, 13)],
    ),
    "WF013 captures a function, a class, an import": (
        """\
        async def flow():
            "use workflow"
            import json
            class Box:
                pass
            async def again(n):
                "use step"
                return await again(n - 1) if n else json.dumps(Box)
            return await again(2)
        """,
        [("WF013", 7, 9), ("WF013", 7, 9), ("WF013", 7, 9)],
    ),
    "WF013 other decorator, duplicate name": (
        """\
        import functools
        async def flow(flag):
            "use workflow"
            if flag:
                @functools.cache
                async def pick():
                    "use step"
                    return 1
            else:
                async def pick():
                    "use step"
                    return 2
            return await pick()
        """,
        [("WF013", 5, 9), ("WF013", 10, 9)],
    ),
    "WF011 bad values": (
        """\
        import wf
        @wf.options(max_attempts=0, backoff="linear", timeout="soon", retries=3)
        async def step():
            "use step"
        """,
        [("WF011", 2, 26), ("WF011", 2, 37), ("WF011", 2, 55), ("WF011", 2, 63)],
    ),
    "WF011 option of the other kind": (
        """\
        from wf import options
        @options(version="v2")
        async def step():
            "use step"
        @options(max_attempts=2)
        async def flow():
            "use workflow"
        """,
        [("WF011", 2, 10), ("WF011", 5, 10)],
    ),
    "WF011 schema on a step, schema not a class": (
        """\
        import wf
        from app import Order
        @wf.options(schema=Order)
        async def step(order):
            "use step"
        @wf.options(schema="Order")
        async def flow(order):
            "use workflow"
        @wf.options(schema=Order, version="v2")
        async def fine(order):
            "use workflow"
        """,
        [("WF011", 3, 13), ("WF011", 6, 20)],
    ),
    "WF011 no effect": (
        """\
        import wf
        @wf.options(timeout=3)
        async def helper():
            "use step"
        @wf.options(timeout=3)
        async def not_marked():
            pass
        """,
        [("WF011", 5, 2)],
    ),
    "WF012 module workflow": (
        """\
        "use workflow"
        async def flow():
            pass
        """,
        [("WF012", 1, 1)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_diagnostic_code_line_and_column(case: str) -> None:
    source, expected = CASES[case]
    assert located(source) == expected


def test_every_code_is_tested_and_documented() -> None:
    tested = {code for _, expected in CASES.values() for code, _, _ in expected}
    assert tested == {f"WF{n:03}" for n in range(1, 14)}
    assert tested | {"WF000"} == set(CODES)


def test_all_problems_of_a_file_are_reported_together() -> None:
    source = """\
        "use workflow"
        import time
        import os


        def sync_flow():
            "use workflow"
            return 1


        async def flow():
            "use workflow"
            time.sleep(1)
            data = open("x").read()
            return os.urandom(4)


        async def typo():
            "use setp"


        class Holder:
            async def method(self):
                "use step"
        """
    assert located(source) == [
        ("WF012", 1, 1),
        ("WF001", 6, 1),
        ("WF005", 13, 5),
        ("WF006", 14, 12),
        ("WF009", 15, 12),
        ("WF003", 19, 5),
        ("WF010", 24, 9),
    ]


def test_messages_and_suggestions() -> None:
    (typo,) = diagnose('async def f():\n    "use-step"\n')
    assert typo.message == "'use-step' is not a directive: did you mean \"use step\"?"
    assert typo.suggestion == 'write exactly "use step"'
    (sleep,) = diagnose('import time\nasync def f():\n    "use workflow"\n    time.sleep(2)\n')
    assert "time.sleep" in sleep.message and "wf.sleep" in (sleep.suggestion or "")
    (io,) = diagnose('async def f():\n    "use workflow"\n    open("x")\n')
    assert "step" in (io.suggestion or "")
    (options,) = diagnose('import wf\n@wf.options(retries=1)\nasync def f():\n    "use step"\n')
    assert "max_attempts" in (options.suggestion or "") and "retries" in options.message
    (schema,) = diagnose(
        'import wf\n@wf.options(schema="Order")\nasync def f(o):\n    "use workflow"\n'
    )
    assert schema.message == (
        "schema must be a dataclass or a pydantic model class (the class itself, not a name or"
        " a value), got 'Order'"
    )
    (on_step,) = diagnose('import wf\n@wf.options(schema=M)\nasync def f(o):\n    "use step"\n')
    assert on_step.message == "option 'schema' applies to workflows, not to steps"


def test_diagnostic_str_and_error() -> None:
    d = Diagnostic("app/flows.py", 3, 5, "WF005", "bad sleep", "use wf.sleep")
    assert str(d) == "app/flows.py:3:5: WF005 bad sleep (hint: use wf.sleep)"
    assert str(Diagnostic("a.py", 1, 1, "WF001", "msg")) == "a.py:1:1: WF001 msg"
    error = d.to_error()
    assert isinstance(error, wf.CompileError)
    assert (error.file, error.line, error.column, error.code) == ("app/flows.py", 3, 5, "WF005")
    assert str(error) == str(d)


def test_compile_error_lists_every_diagnostic() -> None:
    diagnostics = diagnose(
        'import time\ndef f():\n    "use workflow"\nasync def g():\n    "use workflow"\n'
        "    time.sleep(1)\n"
    )
    error = compile_error(diagnostics)
    assert error.code == "WF001" and error.line == 2
    assert str(error).splitlines()[1] == str(diagnostics[1])


def test_checks_apply_only_to_workflow_bodies() -> None:
    source = """\
        import time
        import wf

        def helper():
            time.sleep(1)

        async def step():
            "use step"
            time.sleep(1)
            return open("x").read()

        @wf.options(timeout=time.time() + 5)
        async def flow(started=time.time()):
            "use workflow"
            return 1
        """
    result = compile_source(textwrap.dedent(source), module="m", path="m.py")
    assert result.diagnostics == []
    assert "timeout=time.time() + 5" in result.code
    assert "started=time.time()" in result.code


def test_syntax_error_is_wf000() -> None:
    (d,) = diagnose('async def f(:\n    "use step"\n')
    assert (d.code, d.line) == ("WF000", 1)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Python's bare "invalid syntax" once, then what it points at.
        ('async def f(:\n    "use step"\n', "m.py:1:13: WF000 invalid syntax at ':'"),
        (
            'async def f():\n    "use step"\n    return a b\n',
            "m.py:3:14: WF000 invalid syntax at 'b'",
        ),
        # A specific message is given as Python words it.
        ('async def f()\n    "use step"\n', "m.py:1:14: WF000 invalid syntax: expected ':'"),
        (
            'async def f():\n    "use step"\n    return (1\n',
            "m.py:3:12: WF000 invalid syntax: '(' was never closed",
        ),
    ],
)
def test_syntax_error_message_says_what_python_reports_once(source: str, expected: str) -> None:
    (d,) = diagnose(source)
    assert str(d) == expected
    assert "invalid syntax: invalid syntax" not in str(d)


def test_only_exact_directives_count() -> None:
    assert diagnose('async def f():\n    "use step "\n')[0].code == "WF003"
    assert diagnose('async def f():\n    b"use step"\n') == []
    result = compile_source('async def f():\n    f"use step"\n', module="m", path="m.py")
    assert result.manifest == []


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("use stpe", "use step"),
        ("Use Step", "use step"),
        ("use-step", "use step"),
        ("usestep", "use step"),
        ("use steps", "use step"),
        ("use_workflow", "use workflow"),
        ("use workfow", "use workflow"),
        ("USE WORKFLOW", "use workflow"),
        ("use step", None),
        ("use workflow", None),
        ("Return the total.", None),
        ("user stats", None),
    ],
)
def test_misspelled_directive(text: str, meant: str | None) -> None:
    assert misspelled_directive(text) == meant


def test_prefilter() -> None:
    assert mentions_directive('x = 1\n"use stpe"\n')
    assert mentions_directive('x = "abc" + ("use stpe")')
    assert not mentions_directive('def f():\n    "Return the total."\n    return "ok"\n')
