"""`finsearch` as a real process: a command (`finsearch(...)`), and `finsearch serve` on a free loopback port
for the tests that need an HTTP server; Debian's nginx in front of it with deploy/'s config; slow clients
against either. Most tests run the CLI in their own process (conftest's `cli`)."""
from __future__ import annotations

import os
import pwd
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.abuse import run_slow_clients

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
            timeout: float = START_TIMEOUT, args: Sequence[str] = (), env: dict[str, str] | None = None
            ) -> Iterator[str]:
    """`python -m finsearch serve --index INDEX [ARGS]` on a free port: yields its base URL once
    `ready(base)` (an OSError counts as not yet), and stops it at the end (SIGTERM to gunicorn's
    master, then SIGKILL). Its output goes to `log_path`, shown when it exits early or never gets
    ready. `env` is added to this process's environment."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen([PYTHON, "-m", "finsearch", "serve", "--index", str(index), "--port", str(port),
                                    "--workers", str(workers), *args], cwd=REPO, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **(env or {})})
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


def host_port(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


@contextmanager
def slow_clients(base: str, count: int) -> Iterator[dict[str, int]]:
    """`count` connections of each kind of slow client (benchmarks.abuse: a head dribbled a byte a
    second, a body the same, a large page read 256 bytes a second) against `base`, from a thread,
    until the block ends; the dict yielded then holds how often the server let go of each kind."""
    stop: threading.Event = threading.Event()
    report: queue.Queue = queue.Queue()
    host, port = host_port(base)
    thread = threading.Thread(target=run_slow_clients, args=(host, port, count, stop, report), daemon=True)
    thread.start()
    drops: dict[str, int] = {}
    try:
        yield drops
    finally:
        stop.set()
        thread.join(timeout=30)
        drops.update(report.get(timeout=5))


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_SITE = REPO / "deploy" / "nginx-finsearch.conf"
DEPLOYED_UPSTREAM = "127.0.0.1:8000"  # where deploy/'s units serve finsearch


def nginx_config(site: str, upstream: str, port: int, folder: Path) -> str:
    """A whole nginx.conf around deploy/'s site file, the file itself with its upstream, its listen
    lines and its log paths substituted: everything else is the shipped configuration."""
    site = site.replace(DEPLOYED_UPSTREAM, upstream)
    site = re.sub(r"^(\s*)listen \[::\]:80;\n", "", site, flags=re.M)
    site = re.sub(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{port};", site, flags=re.M)
    site = re.sub(r"/var/log/nginx/", f"{folder}/", site)
    # As root nginx's workers would switch to nobody, who cannot enter pytest's private folders.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))
    return f"""{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp}
    access_log {folder}/access.log;
{site}
}}
"""


@contextmanager
def nginx_in_front(upstream_base: str, folder: Path) -> Iterator[str]:
    """Debian's nginx on a free loopback port with deploy/nginx-finsearch.conf in front of
    `upstream_base`; yields its base URL and stops it at the end. Fails (not skips) without nginx:
    `make test` installs it."""
    if not Path(NGINX).exists():
        raise AssertionError(f"{NGINX} is missing: install Debian's nginx (make browser) to run the proxy tests")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host, upstream_port = host_port(upstream_base)
    config = folder / "nginx.conf"
    config.write_text(nginx_config(NGINX_SITE.read_text("utf-8"), f"{host}:{upstream_port}", port, folder), "utf-8")
    log_path = folder / "nginx.out"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, (f"nginx exited with {process.returncode}:\n{log_path.read_text()}"
                                            f"{(folder / 'error.log').read_text() if (folder / 'error.log').exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"nginx not listening in {START_TIMEOUT} s"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
