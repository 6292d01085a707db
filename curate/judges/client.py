"""An async client for OpenAI-compatible ``/chat/completions`` endpoints, built to label many documents.

vLLM, llama.cpp's server, Ollama, SGLang and hosted APIs all speak this protocol, with differences this
client absorbs:

- **Bounded concurrency**: a semaphore caps requests in flight per judge (``concurrency``); each slot has
  its own keep-alive connection, so a large run never opens thousands of sockets.
- **Retries**: 408, 409, 425, 429, 5xx, timeouts, dropped connections and unreadable response bodies are
  retried with exponential backoff and jitter; a ``Retry-After`` header (seconds or an HTTP date) is honoured
  instead of the backoff. Other 4xx answers (bad key, unknown model) fail at once: retrying cannot help.
- **Deterministic, structured answers**: temperature 0, and a ``response_format`` JSON schema
  (``{"reason": str, "score": 0..5}``). A server that rejects the schema (400/422 naming it) is asked again
  without it, and this judge stops sending it; the answer is then parsed leniently (`curate.judges.parse`).
  Reasoning models on hosted APIs refuse ``temperature`` 0 and ``max_tokens`` (they want
  ``max_completion_tokens``): such a 400 is answered the same way, once per judge, with a warning (without
  temperature 0 the answers may vary between runs; the cache keeps the first).
- **Failures are results**: `Answer` always comes back, with ``score=None`` and an ``error`` when the
  document could not be scored, so the run records it instead of dropping the document.
- **Hostile servers stay bounded** (`curate.http`): ``timeout_s`` is a deadline for the whole attempt (a
  server trickling a byte a second cannot hold a slot longer), an answer is read up to ``max_response_bytes``
  (past it the document fails, not retried: the model would write the same again) and an error body up to
  a few KB; a ``Retry-After`` longer than ``max_wait_s`` fails the document at once and this judge sends
  nothing more in the run (the server said it will not answer in time), instead of sleeping.

The API key comes from an environment variable at call time and is only ever put in the request header.
Anything the server sends back is redacted before it is stored or shown (`curate.http.redact`): the key,
any ``Authorization`` value and the userinfo of the URL become ``***``, so an endpoint that echoes the
request cannot leak them into labels, the cache or logs. URLs are shown without userinfo (`public_url`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from curate import config
from curate.errors import CurateError
from curate.http import (
    DEFAULT_MAX_WAIT_S,
    ERROR_BODY_BYTES,
    RETRY_STATUSES,
    BodyTooLarge,
    WaitTooLong,
    aread_capped,
    check_wait,
    public_url,
    redact,
    retry_after_seconds,
    url_secrets,
)
from curate.judges.parse import ScoreParseError, parse_score

__all__ = ["DEFAULT_KEY_ENV", "DEFAULT_MAX_RESPONSE_BYTES", "RETRY_STATUSES", "Answer", "ClientOptions",
           "JudgeClient", "JudgeSpec", "chat_completions_url", "display_url", "parse_judge_spec",
           "retry_after_seconds"]

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
# An answer of max_tokens=512 is a few KB; 512 KB leaves room for long reasoning while a runaway or hostile
# server cannot fill memory (a 1.2 GB answer took 7 GB before answers were capped).
DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024
SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "score": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]},
    },
    "required": ["reason", "score"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class JudgeSpec:
    """Who judges: a display name, the model name sent to the server, and the server's API base URL."""

    name: str
    model: str
    api_base: str
    api_key_env: str | None = None  # this judge's key variable; None: the run's (``OPENAI_API_KEY``)

    @property
    def chat_url(self) -> str:
        return chat_completions_url(self.api_base)

    def __repr__(self) -> str:  # the URL may carry user:password@; a logged spec must not
        return (f"JudgeSpec(name={self.name!r}, model={self.model!r}, api_base={display_url(self.api_base)!r}, "
                f"api_key_env={self.api_key_env!r})")


def display_url(url: str) -> str:
    """``url`` as it may be stored and shown: no ``user:password@``, no query string or fragment (keys hide there)."""
    parts = urlsplit(public_url(url.strip()))
    return urlunsplit(parts._replace(query="", fragment=""))


def chat_completions_url(api_base: str) -> str:
    """``http://host:8000/v1`` -> ``.../v1/chat/completions``; a bare ``http://host:8000`` gets ``/v1`` added."""
    base = api_base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CurateError(f"invalid API base URL {display_url(api_base)!r} (expected http(s)://host[:port]/v1)")
    if base.endswith("/chat/completions"):
        return base
    if parts.path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


def parse_judge_spec(spec: str) -> JudgeSpec:
    """``NAME=MODEL@URL`` (as given to ``--judge``) -> `JudgeSpec`."""
    name, sep, rest = spec.partition("=")
    model, at, url = rest.partition("@")
    if not (sep and at and name.strip() and model.strip() and url.strip()):
        spec = redact(spec, url_secrets(url.strip()))
        raise CurateError(f"bad --judge {spec!r}: expected NAME=MODEL@URL, e.g. gemma=google/gemma-3-27b-it@http://gpu1:8000/v1")
    judge = JudgeSpec(name.strip(), model.strip(), url.strip())
    chat_completions_url(judge.api_base)  # validate now, not after sampling the corpus
    return judge


@dataclass(frozen=True, slots=True)
class ClientOptions:
    concurrency: int = 32
    timeout_s: float = 120.0  # deadline of one attempt, from sending to the last byte of the answer
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_wait_s: float | None = DEFAULT_MAX_WAIT_S  # longest Retry-After honoured; None: any
    max_tokens: int = 512
    structured: bool = True
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # a larger answer fails its document


@dataclass(frozen=True, slots=True)
class Answer:
    """One judgment: a score, or ``score=None`` with the reason in ``error``."""

    score: float | None
    raw: str
    error: str | None
    latency_s: float  # from the first request to the final answer, retries and waits included
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1


def _short(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class JudgeClient:
    """Scores prompts with one judge. Use as ``async with JudgeClient(...) as client``."""

    def __init__(
        self,
        spec: JudgeSpec,
        options: ClientOptions | None = None,
        *,
        api_key_env: str = DEFAULT_KEY_ENV,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.options = options or ClientOptions()
        self.url = spec.chat_url
        self.structured = self.options.structured
        self.send_temperature = True  # off for models that only accept their default temperature
        self.tokens_param = "max_tokens"  # "max_completion_tokens" for models that refuse max_tokens
        self._api_key_env = api_key_env
        self._sem = asyncio.Semaphore(max(1, self.options.concurrency))
        self._rng = rng or random.Random()
        self._pool: list[httpx.AsyncClient] = []
        self._secrets: list[str] = []
        self.refusal: str | None = None  # set when the server asked for a wait past max_wait_s: send no more
        self.reached = False  # whether the server ever answered: until then a refused connection is final
        self.requests = 0

    async def __aenter__(self) -> JudgeClient:
        # One single-connection client per slot rather than one pool of n: httpcore's pool rescans every
        # connection on every request and response, which costs more CPU than the request itself at n=32.
        # identity: a compressed answer could inflate past the size cap before it is counted (aread_capped
        # still decodes gzip/deflate under the cap for servers that compress anyway).
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        key = config.api_key(self._api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._secrets = _secrets(key, self.spec.api_base)
        verify = httpx.create_ssl_context()  # built once and shared: loading CA certificates takes ~25 ms
        timeout = httpx.Timeout(self.options.timeout_s, connect=min(10.0, self.options.timeout_s))
        self._pool = [
            httpx.AsyncClient(headers=headers, timeout=timeout, verify=verify,
                              limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
            for _ in range(max(1, self.options.concurrency))
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        pool, self._pool = self._pool, []
        for http in pool:
            await http.aclose()

    def payload(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [{"role": "user", "content": prompt}],
            self.tokens_param: self.options.max_tokens,
        }
        if self.send_temperature:
            body["temperature"] = 0
        if self.structured:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "document_score", "strict": True, "schema": SCORE_SCHEMA},
            }
        return body

    def redact(self, text: str) -> str:
        """``text`` (from the server, or naming its URL) with this judge's key and URL credentials masked."""
        return redact(text, self._secrets)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after  # within max_wait_s: longer ones ended the document before this
        ceiling = min(self.options.backoff_max_s, self.options.backoff_base_s * 2**attempt)
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def score(self, prompt: str) -> Answer:
        """Send one prompt (retrying as needed) and parse the score; never raises for server trouble."""
        if not self._pool:
            raise RuntimeError("JudgeClient must be used inside 'async with'")
        if self.refusal is not None:
            return Answer(None, "", f"not sent: {self.refusal}", 0.0, attempts=0)
        async with self._sem:  # at most `concurrency` holders, so a free client is always there
            http = self._pool.pop()
            try:
                return await self._score(http, prompt)
            finally:
                self._pool.append(http)

    async def _post(self, http: httpx.AsyncClient, payload: dict[str, Any]) -> tuple[int, httpx.Headers, bytes]:
        """One request, its answer read under the size caps: the whole answer, or the start of an error body."""
        async with http.stream("POST", self.url, json=payload) as response:
            ok = response.status_code == 200
            limit = self.options.max_response_bytes if ok else ERROR_BODY_BYTES
            return response.status_code, response.headers, await aread_capped(response, limit, truncate=not ok)

    async def _score(self, http: httpx.AsyncClient, prompt: str) -> Answer:
        started = time.monotonic()
        attempt = 0
        while True:
            retry_after: float | None = None
            if self.refusal is not None:  # another request was told to wait too long while this one waited
                return self._failed(f"not sent: {self.refusal}", started, attempt)  # `attempt` requests went out
            self.requests += 1
            # Other requests may switch these off while this one is in flight.
            sent_schema, sent_temperature, sent_tokens = self.structured, self.send_temperature, self.tokens_param
            try:
                # The deadline covers connecting, sending and reading every byte: httpx's timeout bounds
                # each read, and a server trickling one byte per read would hold the request forever.
                async with asyncio.timeout(self.options.timeout_s):
                    status, headers, body = await self._post(http, self.payload(prompt))
            except TimeoutError:
                error = f"timeout after {self.options.timeout_s:g}s (answer not complete by the deadline)"
            except httpx.TimeoutException as exc:
                error = f"timeout after {self.options.timeout_s:g}s ({type(exc).__name__})"
            except BodyTooLarge as exc:  # the model would write the same again: not retried
                return self._failed(f"answer {exc} for one answer (max_response_bytes); not retried",
                                    started, attempt + 1)
            except httpx.ConnectError as exc:
                error = f"cannot connect to {public_url(self.url)} ({_short(str(exc), 120)})"
                if not self.reached:  # refused or unknown host: a wrong --api-base, not a blip; stop at once
                    if self.refusal is None:
                        log.warning("%s: %s; sending nothing more to this judge", self.spec.name, self.redact(error))
                    self.refusal = self.refusal or error
                    return self._failed(error, started, attempt + 1)
            except httpx.RequestError as exc:  # dropped connections, protocol errors, undecodable bodies
                error = f"connection error ({type(exc).__name__}: {_short(str(exc), 120)})"
            else:
                self.reached = True
                text = body.decode("utf-8", errors="replace")
                if status == 200:
                    answer = self._answer(body, started, attempt)
                    if answer is not None:
                        return answer
                    error = f"unreadable response body: {_short(text, 120)!r}"
                elif status in (400, 422) and self._adapt(text, sent_temperature, sent_tokens):
                    continue
                elif status in (400, 422) and sent_schema and _mentions_schema(text):
                    if self.structured:
                        log.warning("%s: server rejected response_format; asking without it (lenient parsing)",
                                    self.spec.name)
                    self.structured = False
                    continue
                elif status in RETRY_STATUSES:
                    error = f"HTTP {status}: {_short(text)}"
                    retry_after = retry_after_seconds(headers.get("retry-after"))
                    if retry_after is not None:
                        try:
                            check_wait(retry_after, self.options.max_wait_s, f"the server (HTTP {status})",
                                       "; stopped asking this judge (--max-wait raises the limit)")
                        except WaitTooLong as exc:
                            if self.refusal is None:
                                log.warning("%s: %s", self.spec.name, exc)
                            self.refusal = self.refusal or str(exc)
                            return self._failed(str(exc), started, attempt + 1)
                else:
                    return self._failed(f"HTTP {status}: {_short(text)}", started, attempt + 1, raw=text[:2000])
            if attempt >= self.options.max_retries:
                return self._failed(f"{error} (gave up after {attempt + 1} attempts)", started, attempt + 1)
            await asyncio.sleep(self._backoff(attempt, retry_after))
            attempt += 1

    def _failed(self, error: str, started: float, attempts: int, raw: str = "") -> Answer:
        """A failed `Answer`, redacted: error texts quote what the server sent."""
        return Answer(None, self.redact(raw), self.redact(error), time.monotonic() - started, attempts=attempts)

    def _adapt(self, body: str, sent_temperature: bool, sent_tokens: str) -> bool:
        """Whether a 400/422 names a parameter this judge can drop or rename (then the request is sent again)."""
        lowered = body.lower()
        if sent_temperature and "temperature" in lowered:
            if self.send_temperature:
                log.warning("%s: the model refuses temperature 0; asking with its default temperature (answers "
                            "may vary between runs)", self.spec.name)
            self.send_temperature = False
            return True
        if sent_tokens == "max_tokens" and "max_completion_tokens" in lowered:
            if self.tokens_param == "max_tokens":
                log.warning("%s: the model wants max_completion_tokens instead of max_tokens", self.spec.name)
            self.tokens_param = "max_completion_tokens"
            return True
        return False

    def _answer(self, body: bytes, started: float, attempt: int) -> Answer | None:
        try:
            data = json.loads(body)
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return None
        usage = data.get("usage") or {}
        if not isinstance(usage, dict):
            usage = {}
        latency = time.monotonic() - started
        tokens = (_int_or_none(usage.get("prompt_tokens")), _int_or_none(usage.get("completion_tokens")))
        if not content and message.get("refusal"):
            content = str(message["refusal"])
        if not isinstance(content, str):
            content = str(content)
        try:
            score = parse_score(content)
        except ScoreParseError as exc:
            return Answer(None, self.redact(content), self.redact(f"unparseable answer: {exc}"), latency, *tokens,
                          attempts=attempt + 1)
        return Answer(score, self.redact(content), None, latency, *tokens, attempts=attempt + 1)


def _secrets(key: str | None, api_base: str) -> list[str]:
    """What `redact` masks for one judge: the key, the URL's user and password, and their basic-auth form."""
    secrets = [key] if key else []
    parts = urlsplit(api_base.strip())
    if parts.username or parts.password:
        secrets += url_secrets(api_base.strip())
        pair = f"{parts.username or ''}:{parts.password or ''}"
        secrets.append(base64.b64encode(pair.encode()).decode())
    return [s for s in secrets if s]


def _mentions_schema(body: str) -> bool:
    lowered = body.lower()
    return any(word in lowered for word in ("response_format", "json_schema", "schema", "guided"))
