"""`finsearch` as a real process: a command (`finsearch(...)`), and `finsearch serve` on a free loopback port
for the tests that need an HTTP server. Most tests run the CLI in their own process (conftest's `cli`)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
START_TIMEOUT = 40  # seconds for a server to answer


def finsearch(*args: object, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m finsearch ARGS…` in the repository, `env` added to this process's environment."""
    return subprocess.run([PYTHON, "-m", "finsearch", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(base: str) -> bool:
    """Whether the server answers /healthz at all (503 included: no index yet)."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True


@contextmanager
def serving(index: Path, log_path: Path, workers: int = 1, ready: Callable[[str], bool] = answers,
            timeout: float = START_TIMEOUT) -> Iterator[str]:
    """`python -m finsearch serve --index INDEX` on a free port: yields its base URL once `ready(base)`
    (an OSError counts as not yet), and stops it at the end (SIGTERM to gunicorn's master, then SIGKILL).
    Its output goes to `log_path`, shown when it exits early or never gets ready."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([PYTHON, "-m", "finsearch", "serve", "--index", str(index), "--port", str(port),
                                    "--workers", str(workers)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"finsearch serve exited with {process.returncode}:\n{log_path.read_text()}"
            try:
                if ready(base):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"finsearch serve not ready in {timeout} s:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
