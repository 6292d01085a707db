"""A stand-in LLM judge for the offline demo: a loopback OpenAI-compatible server with no model behind it.

`curate demo` has no GPU and no network, yet it should show the judge step as it really runs: HTTP requests
to ``/v1/chat/completions``, JSON answers, retries, the cache, a labels file. This server answers those
requests by reading the document out of the prompt and scoring it with the demo corpus's own rule (the share
of explanatory sentences from ``data/demo/sentences.json``, on the 0-5 scale). It knows nothing else: it is a
stand-in, its scores say nothing about any real model, and every answer says so in its ``reason``.

Standard library only (``http.server`` in a thread), bound to 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "demo-stand-in-judge"
_DOCUMENT = re.compile(r"<document>\n?(.*?)\n?</document>", re.DOTALL)
_MAX_BODY = 4 << 20


def standin_score(text: str) -> int:
    """0-5: the share of the demo's explanatory sentences among the pool sentences found in ``text``."""
    from curate.demo_corpus import pools

    edu = sum(s in text for sentences in pools()["edu"].values() for s in sentences)
    spam = sum(s in text for sentences in pools()["spam"].values() for s in sentences)
    return round(5 * edu / (edu + spam)) if edu + spam else 0


class _Handler(BaseHTTPRequestHandler):
    server_version = "curate-standin-judge"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints its own progress
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "only /v1/chat/completions is served"}})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= _MAX_BODY:
                raise ValueError("bad length")
            request = json.loads(self.rfile.read(length))
            prompt = request["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            self._send(400, {"error": {"message": "expected an OpenAI chat completion request"}})
            return
        found = _DOCUMENT.search(prompt)
        score = standin_score(found.group(1) if found else prompt)
        content = json.dumps({"reason": "stand-in judge (demo only): share of explanatory sentences",
                              "score": score})
        self._send(200, {"id": "standin", "object": "chat.completion", "model": request.get("model", MODEL),
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 20}})


@contextmanager
def serve_standin_judge() -> Iterator[str]:
    """Serve the stand-in judge on a free loopback port; yields its API base URL (``http://127.0.0.1:P/v1``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="curate-standin-judge", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
