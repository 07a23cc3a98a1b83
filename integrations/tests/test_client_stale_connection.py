"""A pooled keep-alive connection the Graph side already closed: the send goes out once more on a fresh
connection (issue 12), and only then. Against a real loopback server, through the real session."""

import json
import socket
import threading
import time

import pytest
import requests

from integrations.meta import client as graph
from integrations.meta.client import GraphClient, GraphError


class DroppingServer:
    """HTTP/1.1 on loopback. `mode`:
    - "drop_reused": answers the first request of a connection with keep-alive headers; a later request
      on that connection finds it closing: the server drops it unread and unanswered (its idle timeout
      fired as our request went out; urllib3's own check for dropped connections ran just before);
    - "close_without_answer": reads the request, closes without answering (the request reached it).
    `received` counts the requests that arrived in full."""

    def __init__(self, mode: str):
        self.mode = mode
        self.received = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            for served in range(100):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if self.mode == "drop_reused" and served > 0:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return  # closed unread: a reset, no answer
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.received += 1
                if self.mode == "close_without_answer":
                    return
                answer = json.dumps({"message_id": f"m_{self.received}", "recipient_id": "42"}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                             b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer)

    def close(self):
        self.sock.close()


@pytest.fixture
def server_factory(settings):
    servers = []

    def make(mode):
        server = DroppingServer(mode)
        settings.INSTAGRAM_GRAPH_URL = f"http://127.0.0.1:{server.port}"
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _client() -> GraphClient:
    session = requests.Session()  # a pool of its own, as the process-wide one is
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))
    return GraphClient(platform="instagram", account_id="17841", token="tok", http=session, max_attempts=1)


def test_send_on_a_pooled_connection_the_server_closed_goes_out_once_more_on_a_fresh_one(server_factory):
    server = server_factory("drop_reused")
    client = _client()
    assert client.send_text(recipient_id="42", text="first").message_id == "m_1"
    result = client.send_text(recipient_id="42", text="second")
    assert result.message_id == "m_2"
    assert server.received == 2  # the dropped attempt never reached the server: nothing was doubled


def test_without_the_fresh_retry_that_send_would_have_been_unknown(server_factory, monkeypatch):
    """The failure the retry is for, shown without it: the reused connection fails with no answer."""
    server_factory("drop_reused")
    monkeypatch.setattr(graph, "_stale_connection", lambda exc: False)
    client = _client()
    client.send_text(recipient_id="42", text="first")
    with pytest.raises(GraphError) as caught:
        client.send_text(recipient_id="42", text="second")
    assert caught.value.kind == graph.AMBIGUOUS


def test_a_fresh_connection_dropped_after_the_request_arrived_stays_unknown_and_is_not_repeated(server_factory):
    server = server_factory("close_without_answer")
    with pytest.raises(GraphError) as caught:
        _client().send_text(recipient_id="42", text="hello")
    assert caught.value.kind == graph.AMBIGUOUS
    time.sleep(0.1)
    assert server.received == 1


def test_a_timeout_after_sending_stays_unknown_and_is_not_repeated(settings):
    received = []
    sock = socket.create_server(("127.0.0.1", 0))

    def swallow():
        conn, _ = sock.accept()
        received.append(conn.recv(65536))
        time.sleep(2)
        conn.close()

    threading.Thread(target=swallow, daemon=True).start()
    settings.INSTAGRAM_GRAPH_URL = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = GraphClient(platform="instagram", account_id="17841", token="tok", http=requests.Session(),
                         max_attempts=3, timeout=0.3)
    try:
        with pytest.raises(GraphError) as caught:
            client.send_text(recipient_id="42", text="hello")
    finally:
        sock.close()
    assert caught.value.kind == graph.AMBIGUOUS and len(received) == 1
