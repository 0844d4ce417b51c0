"""A local stand-in for the Mistral chat-completions API, for tests and benchmarks.

A real HTTP server on 127.0.0.1 (a thread), speaking the chat-completions shape the
`mistralai` SDK expects. By default it answers with the first legal action it finds in
the request's JSON-schema enum; `script` queues one-off behaviours (an HTTP error with
headers, a delay, a given answer text) consumed one request at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply. `content=None` means: pick a legal action from the schema."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content: str | None = None
    choose: int = 0  # which legal action to pick when content is None
    tokens: tuple[int, int] = (120, 30)  # prompt, completion


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


class StandIn:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_reply(self) -> Reply:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    @staticmethod
    def legal_actions(body: dict[str, Any]) -> list[str]:
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        return list(schema.get("properties", {}).get("action", {}).get("enum", []))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with standin._lock:
                    standin.received.append(
                        Received(self.path, dict(self.headers), body, time.monotonic())
                    )
                reply = standin.next_reply()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    payload = {"object": "error", "message": f"stand-in {reply.status}"}
                    return self._send(reply.status, payload, reply.headers)
                content = reply.content
                if content is None:
                    legal = standin.legal_actions(body) or ["default"]
                    action = legal[min(reply.choose, len(legal) - 1)]
                    content = json.dumps(
                        {"reasoning": f"stand-in picks {action}", "action": action}
                    )
                prompt, completion = reply.tokens
                self._send(200, {
                    "id": "standin-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "?"),
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                }, reply.headers)  # fmt: skip

            def _send(self, status: int, payload: dict, headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler


@contextmanager
def running_standin() -> Iterator[StandIn]:
    standin = StandIn().start()
    try:
        yield standin
    finally:
        standin.stop()
