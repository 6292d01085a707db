"""A loopback OpenAI-compatible server for tests and the judge bench (starlette + uvicorn in a thread).

It answers ``POST /v1/chat/completions`` like vLLM would, but what it answers is steered by markers in the
document text (the part of the prompt between ``<document>`` tags), so one test corpus exercises every path:

- ``[score=N]``: answer ``{"reason": ..., "score": N}``; ``[score@MODEL=N]`` only for that model (wins).
  Without a marker the score is 3.
- ``[malformed]``: broken JSON that still holds the score (``{"reason": "cut off...", "score": N``).
- ``[garbage]``: prose with no score in it (the label must fail, with the answer kept in ``raw``).
- ``[prose]``: ``Score: N/5`` in plain text.
- ``[badbody]``: HTTP 200 whose body is not JSON, every time.
- ``[429xK]`` / ``[500xK]``: the first K requests for this document answer 429 / 500, then it succeeds;
  ``[retry-after=S]`` sets the 429's ``Retry-After`` header (default ``0``).
- ``[500always]``: every request answers 500.
- ``[slow=S]``: sleep S seconds before answering (on top of the server-wide ``latency``).

``reject_response_format=True`` makes the server answer 400 to any request carrying ``response_format``
(as servers without structured output do) and answer ``Score: N`` in prose otherwise.
``reasoning_model=True`` answers 400 to ``temperature`` other than 1 and to ``max_tokens``, with the error
bodies a hosted API sends for reasoning models.

Run standalone (used by ``bench/judge.py`` so the server has its own process):
``python tests/openai_stub.py --latency 0.2`` prints the API base URL on stdout and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_DOC = re.compile(r"<document>\n?(.*?)\n?</document>", re.DOTALL)


@dataclass
class OpenAIStub:
    latency: float = 0.0
    reject_response_format: bool = False
    reasoning_model: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def n_requests(self) -> int:
        return len(self.requests)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
        ])

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def chat(self, request: Request) -> Response:
        try:
            body = await request.json()
            prompt = body["messages"][-1]["content"]
            model = body["model"]
        except (ValueError, KeyError, IndexError, TypeError):
            return JSONResponse({"error": {"message": "bad request body"}}, status_code=400)
        match = _DOC.search(prompt)
        doc = match.group(1) if match else prompt
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self.attempts[doc] += 1
            attempt = self.attempts[doc]
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body, prompt, model, doc, attempt)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, body: dict[str, Any], prompt: str, model: str, doc: str, attempt: int) -> Response:
        delay = self.latency
        slow = re.search(r"\[slow=([\d.]+)\]", doc)
        if slow:
            delay += float(slow.group(1))
        if delay:
            await asyncio.sleep(delay)
        if self.reasoning_model and body.get("temperature", 1) != 1:
            return JSONResponse({"error": {"message": "Unsupported value: 'temperature' does not support 0 with this "
                                           "model. Only the default (1) value is supported.",
                                           "param": "temperature", "code": "unsupported_value"}}, status_code=400)
        if self.reasoning_model and "max_tokens" in body:
            return JSONResponse({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with "
                                           "this model. Use 'max_completion_tokens' instead.",
                                           "param": "max_tokens", "code": "unsupported_parameter"}}, status_code=400)
        if self.reject_response_format and "response_format" in body:
            return JSONResponse({"error": {"message": "response_format json_schema is not supported"}},
                                status_code=400)
        for code in ("429", "500"):
            failing = re.search(rf"\[{code}x(\d+)\]", doc)
            if failing and attempt <= int(failing.group(1)):
                headers = {}
                if code == "429":
                    after = re.search(r"\[retry-after=([\d.]+)\]", doc)
                    headers["Retry-After"] = after.group(1) if after else "0"
                return JSONResponse({"error": {"message": f"stub {code}"}}, status_code=int(code), headers=headers)
        if "[500always]" in doc:
            return JSONResponse({"error": {"message": "stub always 500"}}, status_code=500)
        if "[badbody]" in doc:
            return PlainTextResponse("<html>upstream proxy error", status_code=200)
        score = self.score_for(doc, model)
        if "[garbage]" in doc:
            content = "I am not able to judge this document."
        elif "[malformed]" in doc:
            content = '{"reason": "cut off because of {braces} and the token limit", "score": ' + str(score)
        elif "[prose]" in doc or self.reject_response_format:
            content = f"This is a fair text.\nScore: {score}/5"
        else:
            content = json.dumps({"reason": "stub judgement", "score": score})
        return JSONResponse({
            "id": f"chatcmpl-{attempt}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 12, "total_tokens": len(prompt) // 4 + 12},
        })

    @staticmethod
    def score_for(doc: str, model: str) -> int:
        specific = re.search(rf"\[score@{re.escape(model)}=(\d+)\]", doc)
        if specific:
            return int(specific.group(1))
        generic = re.search(r"\[score=(\d+)\]", doc)
        return int(generic.group(1)) if generic else 3


@contextmanager
def serve(stub: OpenAIStub, host: str = "127.0.0.1") -> Iterator[str]:
    """Run the stub on a free loopback port in a thread; yields the API base URL (``http://.../v1``)."""
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets, and without it every answer
    # waits ~40 ms for a delayed ACK (Nagle), which would make the stub slower than the latency it simulates.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(stub.app(), log_level="warning", lifespan="off", access_log=False,
                                           backlog=1024, timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("stub server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--reject-response-format", action="store_true")
    args = parser.parse_args()
    stub = OpenAIStub(latency=args.latency, reject_response_format=args.reject_response_format)
    with serve(stub) as url:
        print(url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
