"""Running an external analyzer (semgrep, bandit) as one background process per scan.

The process is started with :meth:`Process.start`, which returns at once, so the tool runs
while the checker's own analysis works; :meth:`Process.wait` collects its output. The
output goes to files, not pipes, so a tool with a lot to say never blocks on a full pipe
while nobody reads it. Every kind of trouble (not installed, cannot start, crashed, timed
out) becomes a plain sentence for the report, never an exception.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from checker.model import EngineStatus, Finding
from checker.source import SourceFile

#: Bytes of the command line (arguments and environment) we allow ourselves; Linux allows
#: at least 2 MiB in total and 128 KiB per argument. Beyond it, targets go in batches.
ARG_BUDGET = 1_000_000


@dataclass
class EngineRun:
    """What one external engine produced for a scan."""

    status: EngineStatus
    #: relative path -> findings (built with ``make_finding``)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    #: relative path -> fact key -> [(line, data)]
    facts: dict[str, dict[str, list[tuple[int, Any]]]] = field(default_factory=dict)
    #: relative path -> why the engine could not analyse the file
    failed_files: dict[str, str] = field(default_factory=dict)


def not_run(name: str, detail: str, seconds: float = 0.0) -> EngineRun:
    return EngineRun(EngineStatus(name, ran=False, detail=detail, seconds=round(seconds, 3)))


def find_executable(name: str) -> str | None:
    """The tool installed beside the running interpreter (the same virtualenv), else the
    one on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def batches(arguments: Sequence[str], fixed: Sequence[str], env: Mapping[str, str] | None = None,
            budget: int = ARG_BUDGET) -> list[list[str]]:
    """Split ``arguments`` into as few batches as fit one command line each, beside the
    ``fixed`` part of the command and the environment. Almost always one batch."""
    used = sum(len(a) + 1 for a in fixed) + sum(len(k) + len(v) + 2 for k, v in (os.environ if env is None else env).items())
    room = max(budget - used, 4096)
    out: list[list[str]] = [[]]
    size = 0
    for arg in arguments:
        cost = len(os.fsencode(arg)) + 1 + 8  # the pointer in argv
        if out[-1] and size + cost > room:
            out.append([])
            size = 0
        out[-1].append(arg)
        size += cost
    return out if out[0] else []


@dataclass
class Outcome:
    """How a finished process went: exactly one of ``problem`` or the outputs is meaningful."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    problem: str | None = None  # why there is no usable output (not started, timed out)


class Process:
    """One external command run in the background with its output in temporary files."""

    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], workdir: Path) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.workdir = workdir
        self._proc: subprocess.Popen | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._problem: str | None = None
        self._out_path = workdir / f"stdout-{id(self)}"
        self._err_path = workdir / f"stderr-{id(self)}"

    def start(self) -> None:
        self._started = time.monotonic()
        try:
            with self._out_path.open("wb") as out, self._err_path.open("wb") as err:
                self._proc = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err, start_new_session=True,
                )
        except OSError as exc:
            self._problem = f"could not be started: {exc.strerror or exc}"
            return
        # Note when the process really ends: the engine collects it only after its own work.
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.wait()
            self._ended = time.monotonic()

    def wait(self, deadline: float) -> Outcome:
        """Wait until the process ends or ``deadline`` (a ``time.monotonic()`` value)."""
        if self._proc is None:
            return Outcome(None, "", "", 0.0, self._problem or "was not started")
        try:
            self._proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            self.kill()
            return Outcome(None, "", "", time.monotonic() - self._started, "timed out")
        seconds = (self._ended or time.monotonic()) - self._started
        return Outcome(self._proc.returncode, _read(self._out_path), _read(self._err_path), seconds)

    def kill(self) -> None:
        """End the process and everything it started (the tools run helper processes)."""
        if self._proc is None or self._proc.poll() is not None:
            return
        killpg = getattr(os, "killpg", None)  # not on Windows
        try:
            if killpg is None:
                raise ProcessLookupError
            killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self._proc.kill()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


def tool_relpath(path: str, root: Path, files: Mapping[str, Any], known: Mapping[str, str] | None = None) -> str | None:
    """The scanned file a tool's reported path stands for (relative to ``root``, through
    the real root too, or via the arguments the tool was given), or None."""
    for candidate in (path, os.path.normpath(path)):
        if known and candidate in known:
            return known[candidate]
    if os.path.isabs(path):
        for base in (str(root), os.path.realpath(root)):
            rel = os.path.relpath(path, base)
            if not rel.startswith(".."):
                path = rel
                break
        else:
            return None
    rel = Path(os.path.normpath(path)).as_posix()
    return rel if rel in files else None


def make_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove_workdir(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def last_line(text: str, limit: int = 300) -> str:
    """The last non-blank line of a tool's error output, shortened: the usual reason."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def exit_reason(name: str, returncode: int | None, stderr: str) -> str:
    if returncode is not None and returncode < 0:
        try:
            signame = signal.Signals(-returncode).name
        except ValueError:
            signame = f"signal {-returncode}"
        reason = f"{name} was killed by {signame}"
    else:
        reason = f"{name} exited with status {returncode}"
    detail = last_line(stderr)
    return f"{reason}: {detail}" if detail else reason


class ExternalRun:
    """The life cycle both external engines share. :meth:`start` prepares the command and
    launches its first process, then returns at once, so the tool runs while the checker's
    own analysis works; :meth:`wait` collects every batch of targets. Neither raises for
    trouble with the tool: it becomes an :class:`EngineStatus` that says why it did not run.

    Subclasses implement :meth:`_prepare` (build ``_argv``/``_env``, fill ``_pending`` with
    batches of targets, then ``_launch`` the first) and :meth:`_collect`.
    """

    NAME: ClassVar[str]

    def __init__(self, files: list[SourceFile], root: Path, timeout: float = 300,
                 executable: str | os.PathLike | None = None) -> None:
        self.files = list(files)
        self.root = Path(root)
        self.timeout = float(timeout)
        self.executable = str(executable) if executable is not None else None
        #: the tool's raw JSON reports, one per process (kept for recording test data)
        self.reports: list[dict] = []
        self._result: EngineRun | None = None
        self._workdir: Path | None = None
        self._started = 0.0
        self._busy = 0.0
        self._argv: list[str] = []
        self._env: dict[str, str] = dict(os.environ)
        self._pending: list[list[str]] = []
        self._current: Process | None = None
        self._current_batch: list[str] = []
        self._failed: dict[str, str] = {}
        self._by_rel = {f.relpath: f for f in self.files}

    def start(self) -> None:
        self._started = time.monotonic()
        self._busy = 0.0
        try:
            self._prepare()
        except Exception as exc:  # never let engine trouble escape
            self._finish(not_run(self.NAME, self._start_problem(exc)))

    def _start_problem(self, exc: Exception) -> str:
        return f"could not be started: {type(exc).__name__}: {exc}"

    def _prepare(self) -> None:  # pragma: no cover - implemented by each engine
        raise NotImplementedError

    def _collect(self) -> None:  # pragma: no cover - implemented by each engine
        raise NotImplementedError

    def _launch(self, batch: list[str]) -> None:
        assert self._workdir is not None
        self._current_batch = batch
        self._current = Process(self._argv + batch, cwd=Path(os.path.realpath(self.root)), env=self._env,
                                workdir=self._workdir)
        self._current.start()

    def _next(self, deadline: float) -> Outcome:
        """Wait for the running process; its own running time is added to the total."""
        assert self._current is not None
        outcome = self._current.wait(deadline)
        self._busy += outcome.seconds
        self._current = None
        return outcome

    def _finish(self, run: EngineRun) -> None:
        status = run.status
        # The processes' own running time (the engine collects them only after its own work).
        run.status = EngineStatus(status.name, status.ran, status.detail, len(self.files), round(self._busy, 3))
        self._result = run
        remove_workdir(self._workdir)
        self._workdir = None

    def wait(self) -> EngineRun:
        if self._result is None and self._current is None:
            self.start()
        try:
            if self._result is None:
                self._collect()
        except Exception as exc:  # never let engine trouble escape
            if self._current is not None:
                self._current.kill()
            self._finish(not_run(self.NAME, f"failed: {type(exc).__name__}: {exc}"))
        assert self._result is not None
        return self._result
