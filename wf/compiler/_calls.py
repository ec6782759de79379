"""Which calls in a workflow body are rewritten, and which are rejected.

Names are fully qualified (``datetime.datetime.now``): the transformer
resolves import aliases with LibCST's qualified-name metadata before looking
them up here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PATH_IO_METHODS", "PATH_TYPES", "Rejection", "rejection_for", "replacement_for"]

# Qualified name -> the ``__wf__`` attribute that replaces it.
_REPLACEMENTS: dict[str, str] = {
    "time.time": "time",
    "time.time_ns": "time_ns",
    "time.monotonic": "monotonic",
    "time.monotonic_ns": "monotonic_ns",
    "time.perf_counter": "perf_counter",
    "time.perf_counter_ns": "perf_counter_ns",
    "datetime.datetime.now": "datetime_now",
    "datetime.datetime.utcnow": "datetime_utcnow",
    "datetime.datetime.today": "datetime_today",
    "datetime.date.today": "date_today",
    "uuid.uuid4": "uuid4",
    "uuid.uuid1": "uuid1",
    "asyncio.wait": "wait",
    "asyncio.as_completed": "as_completed",
}

# The functions of the ``random`` module that are bound methods of its hidden
# ``Random`` instance: in a workflow they run on the run's seeded one instead.
_RANDOM_FUNCTIONS = frozenset(
    {
        "betavariate",
        "binomialvariate",
        "choice",
        "choices",
        "expovariate",
        "gammavariate",
        "gauss",
        "getrandbits",
        "getstate",
        "lognormvariate",
        "normalvariate",
        "paretovariate",
        "randbytes",
        "randint",
        "random",
        "randrange",
        "sample",
        "seed",
        "setstate",
        "shuffle",
        "triangular",
        "uniform",
        "vonmisesvariate",
        "weibullvariate",
    }
)


def replacement_for(qualified_name: str) -> tuple[str, ...] | None:
    """The ``__wf__`` attribute path that replaces a call to ``qualified_name``, if any.

    ``("time",)`` means ``__wf__.time``; ``("rng()", "randint")`` means
    ``__wf__.rng().randint``.
    """
    attribute = _REPLACEMENTS.get(qualified_name)
    if attribute is not None:
        return (attribute,)
    module, _, function = qualified_name.rpartition(".")
    if module == "random" and function in _RANDOM_FUNCTIONS:
        return ("rng()", function)
    return None


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    what: str
    suggestion: str


_MOVE_TO_STEP = 'move it into a step (an `async def` whose body starts with "use step")'

_SLEEP = Rejection(
    "WF005",
    "blocks the worker",
    "use `await wf.sleep(...)` or `await asyncio.sleep(...)`, which are durable",
)
_FILES = Rejection("WF006", "does file I/O", _MOVE_TO_STEP)
_NETWORK = Rejection("WF007", "does network I/O", _MOVE_TO_STEP)
_THREADS = Rejection("WF008", "starts threads or processes", _MOVE_TO_STEP)
_ENTROPY = Rejection(
    "WF009",
    "reads OS randomness, which cannot be replayed",
    "use `wf.random()` / `wf.uuid4()`, or " + _MOVE_TO_STEP,
)

_EXACT: dict[str, Rejection] = {
    "time.sleep": _SLEEP,
    "builtins.open": _FILES,
    "io.open": _FILES,
    "io.open_code": _FILES,
    "os.open": _FILES,
    "os.fdopen": _FILES,
    "codecs.open": _FILES,
    "asyncio.open_connection": _NETWORK,
    "asyncio.open_unix_connection": _NETWORK,
    "asyncio.start_server": _NETWORK,
    "asyncio.start_unix_server": _NETWORK,
    "asyncio.to_thread": _THREADS,
    "asyncio.create_subprocess_exec": _THREADS,
    "asyncio.create_subprocess_shell": _THREADS,
    "os.system": _THREADS,
    "os.popen": _THREADS,
    "os.fork": _THREADS,
    "os.posix_spawn": _THREADS,
    "os.posix_spawnp": _THREADS,
    "os.urandom": _ENTROPY,
    "os.getrandom": _ENTROPY,
    "random.SystemRandom": _ENTROPY,
}

# A call to anything under one of these packages is rejected.
_PACKAGES: dict[str, Rejection] = {
    "socket": _NETWORK,
    "ssl": _NETWORK,
    "requests": _NETWORK,
    "httpx": _NETWORK,
    "urllib": _NETWORK,
    "urllib3": _NETWORK,
    "aiohttp": _NETWORK,
    "http.client": _NETWORK,
    "threading": _THREADS,
    "subprocess": _THREADS,
    "multiprocessing": _THREADS,
    "concurrent.futures": _THREADS,
    "secrets": _ENTROPY,
}

PATH_TYPES = frozenset(
    {"pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePath"}
)
PATH_IO_METHODS = frozenset(
    {
        "open",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "touch",
        "unlink",
        "mkdir",
        "rmdir",
        "rename",
        "replace",
        "iterdir",
        "glob",
        "rglob",
        "exists",
        "is_file",
        "is_dir",
        "stat",
    }
)


def rejection_for(qualified_name: str) -> Rejection | None:
    """Why a call to ``qualified_name`` cannot appear in a workflow body, if it cannot."""
    rejection = _EXACT.get(qualified_name)
    if rejection is not None:
        return rejection
    for package, rejection in _PACKAGES.items():
        if qualified_name.startswith(package + "."):
            return rejection
    owner, _, method = qualified_name.rpartition(".")
    if owner in PATH_TYPES and method in PATH_IO_METHODS:
        return _FILES
    return None
