"""The front door (issue 24): slow clients cannot hold the site, exports and trends run within a
bounded share of it, and the shipped nginx config in front of it holds, for real: `finsearch
serve` processes, sockets on loopback, Debian's nginx (installed by `make test`)."""
from __future__ import annotations

import csv
import http.client
import io
import json
import select
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from finsearch.webui import SECURITY_HEADERS, create_app
from finsearch.webui.admission import (
    BUSY_CODE,
    BUSY_MESSAGE,
    MAX_GIVE_WAY,
    HeavySlots,
    OrdinaryRequests,
    giving_way,
)
from finsearch.webui.server import REQUEST_READ_TIMEOUT
from tests.servers import host_port, nginx_in_front, serving, slow_clients

BANK = quote("银行")
SEARCH = f"/api/search?q={BANK}"
EXPORT_ALL = "/export.csv?q="
SLOW_CLIENTS = 50  # of each kind: heads and bodies a byte a second, pages read 256 bytes a second
NORMAL_SECONDS = 2  # an ordinary search of the sample index takes tens of milliseconds


def get(url: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage,
                                                                                       bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def csv_rows(body: bytes) -> int:
    assert body.endswith(b"\r\n"), body[-200:]  # the last row whole
    return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig")))) - 1


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """The server's runtime folder (systemd's RuntimeDirectory=): its heavy-request slots."""
    return tmp_path_factory.mktemp("runtime")


@pytest.fixture(scope="module")
def server(index_dir, runtime, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("frontdoor") / "server.log"
    with serving(index_dir, log_path, workers=2, args=("--heavy-requests", "1"),
                 env={"RUNTIME_DIRECTORY": str(runtime)}) as base:
        yield base


@pytest.fixture(scope="module")
def proxy(server, tmp_path_factory):
    with nginx_in_front(server, tmp_path_factory.mktemp("nginx")) as base:
        yield base


@pytest.fixture(scope="module")
def expected(server) -> dict[str, int]:
    """What the quiet server answers: the search's total, and the rows of an export of every post."""
    status, _, body = get(server + SEARCH)
    assert status == 200
    _, _, everything = get(f"{server}/api/search?q=")
    return {"total": json.loads(body)["total"], "articles": json.loads(everything)["articles"]}


def searches_answer_normally(base: str, expected: dict[str, int]) -> None:
    """Ten searches in a normal time, and the page; first one that may wait for the slow readers'
    pages to be made (fifty large pages asked for at once are real work, not a held server)."""
    assert get(base + SEARCH, timeout=20)[0] == 200
    for _ in range(10):
        started = time.monotonic()
        status, _, body = get(base + SEARCH, timeout=3 * NORMAL_SECONDS)
        assert status == 200 and json.loads(body)["total"] == expected["total"]
        assert time.monotonic() - started < NORMAL_SECONDS
    status, _, page = get(f"{base}/?q={BANK}", timeout=3 * NORMAL_SECONDS)
    assert status == 200 and "<mark>银行</mark>" in page.decode()


# -- slow clients -------------------------------------------------------------

def test_slow_clients_cannot_hold_finsearch_serve(server, expected):
    with slow_clients(server, SLOW_CLIENTS):
        time.sleep(2)  # every slow client is connected and has sent its first bytes
        searches_answer_normally(server, expected)


def test_a_request_head_must_arrive_whole_within_the_deadline(server):
    """A byte every quarter second keeps no per-read timeout from firing; the deadline is for the
    whole head, and the answer carries the security headers."""
    host, port = host_port(server)
    endless = b"GET /?q=x HTTP/1.1\r\nX-Padding: " + b"a" * 1000
    answer = b""
    with socket.create_connection((host, port), timeout=5) as sock:
        started = time.monotonic()
        for number in range(len(endless)):
            if answer or time.monotonic() - started > REQUEST_READ_TIMEOUT + 3:
                break
            try:
                sock.send(endless[number:number + 1])
                readable, _, _ = select.select([sock], [], [], 0.25)
                if readable:
                    answer = sock.recv(4096) or b"(closed)"
            except OSError as error:
                answer = f"({error})".encode()
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert REQUEST_READ_TIMEOUT - 0.5 <= waited <= REQUEST_READ_TIMEOUT + 2
    for name, value in SECURITY_HEADERS.items():
        assert f"\r\n{name}: {value}\r\n".encode() in answer


@pytest.mark.server
def test_serve_takes_a_timeout(index_dir, tmp_path):
    with serving(index_dir, tmp_path / "server.log", args=("--timeout", "6")) as base:
        assert get(base + SEARCH)[0] == 200


# -- heavy requests -----------------------------------------------------------

def test_exports_and_trends_beyond_their_share_wait_and_searches_go_on(server, runtime, expected):
    held = HeavySlots(runtime, 1).acquire()  # as another worker's export would hold it
    assert held is not None
    try:
        status, headers, body = get(server + EXPORT_ALL)
        assert status == 429 and int(headers["Retry-After"]) > 0
        assert BUSY_MESSAGE in body.decode() and headers.get_content_type() == "text/html"
        for path in (f"/api/trends?q={BANK}", f"/trends?q={BANK}", f"/trends.csv?q={BANK}", f"/export.jsonl?q={BANK}"):
            status, headers, body = get(server + path)
            assert status == 429 and int(headers["Retry-After"]) > 0, path
            if path.startswith("/api/"):
                assert json.loads(body) == {"error": BUSY_MESSAGE, "code": BUSY_CODE}
        assert get(f"{server}/trends")[0] == 200  # the empty form counts nothing
        searches_answer_normally(server, expected)
    finally:
        held.release()
    status, _, body = get(server + EXPORT_ALL)
    assert status == 200 and csv_rows(body) == expected["articles"]


def test_a_streaming_export_keeps_its_slot_until_it_is_closed(index_dir, tmp_path):
    app = create_app(index_dir, TESTING=True, FINSEARCH_HEAVY_REQUESTS=1, FINSEARCH_RUNTIME_DIR=str(tmp_path))
    client = app.test_client()
    try:
        streaming = client.get(EXPORT_ALL, buffered=False)  # the view has returned; the stream has not ended
        assert streaming.status_code == 200
        assert client.get(f"/api/trends?q={BANK}", buffered=True).status_code == 429
        assert client.get(SEARCH, buffered=True).status_code == 200
        streaming.close()
        assert client.get(f"/api/trends?q={BANK}", buffered=True).status_code == 200
        assert client.get("/export.csv?q=x&from=notadate", buffered=True).status_code == 400  # refused, and freed
        assert client.get(f"/api/trends?q={BANK}", buffered=True).status_code == 200
    finally:
        app.extensions["finsearch"].close()


def test_an_export_gives_way_to_the_searches_of_its_process():
    ordinary = OrdinaryRequests()
    started = time.monotonic()
    assert list(giving_way(iter("abc"), ordinary)) == ["a", "b", "c"]
    assert time.monotonic() - started < MAX_GIVE_WAY  # alone, it never waits
    ordinary.enter()  # a search is being served
    pieces = giving_way(iter("abc"), ordinary)
    started = time.monotonic()
    assert next(pieces) == "a"
    assert time.monotonic() - started >= MAX_GIVE_WAY * 0.9  # it waited, but not for ever
    ordinary.leave()
    started = time.monotonic()
    assert list(pieces) == ["b", "c"] and time.monotonic() - started < MAX_GIVE_WAY


# -- through the shipped nginx config ------------------------------------------

def test_slow_clients_cannot_hold_the_proxy(proxy, expected):
    with slow_clients(proxy, SLOW_CLIENTS):
        time.sleep(2)
        searches_answer_normally(proxy, expected)


def test_the_proxy_compresses_text_and_keeps_the_security_headers(proxy):
    for path in (SEARCH, f"/?q={BANK}", f"{EXPORT_ALL}{BANK}", f"/export.jsonl?q={BANK}", f"/api/trends?q={BANK}"):
        status, headers, body = get(proxy + path, headers={"Accept-Encoding": "gzip"})
        if status == 429:  # the export before still held its heavy slot: do as Retry-After says
            time.sleep(int(headers["Retry-After"]))
            status, headers, body = get(proxy + path, headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip", path
        for name, value in SECURITY_HEADERS.items():
            assert headers.get_all(name) == [value], (path, name)
    status, headers, _ = get(f"{proxy}/healthz")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    host, port = host_port(proxy)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("GET", SEARCH, body=b"x" * 100_000)  # over the body limit: nginx's own 413
    response = connection.getresponse()
    assert response.status == 413
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get_all(name) == [value], name
    connection.close()


def test_an_export_streams_through_the_proxy_and_frees_its_slot_before_the_client_reads(proxy, runtime, expected):
    """The client reads nothing at first: nginx takes the export from gunicorn all the same, so the
    heavy slot is free long before the client is done; then the client gets every row."""
    host, port = host_port(proxy)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.sock = sock
    connection.request("GET", EXPORT_ALL)
    response = connection.getresponse()
    assert response.status == 200
    deadline = time.monotonic() + 20
    while (slot := HeavySlots(runtime, 1).acquire()) is None:
        assert time.monotonic() < deadline, "the export still holds its slot"
        time.sleep(0.2)
    slot.release()
    assert csv_rows(response.read()) == expected["articles"]
    connection.close()
