"""The annotation page's server: ``seqlab annotate``.

    GET  /                  the page (static HTML, JavaScript and CSS)
    GET  /api/state         labels, progress, the latest model, whether training runs
    GET  /api/next          the next sentence for ``annotator`` (kept for them while they work on it)
    GET  /api/sentence/ID   one sentence, with the current model's suggestion
    POST /api/answer        {key, annotator, sentence, action: accept|skip, spans: [[start, end, label]], model}
    POST /api/undo          {key, annotator}: take back the annotator's latest answer
    GET  /healthz

Every request is checked before anything is written (``seqlab.annotate.requests``): a bad one gets a
4xx ``{"error": ...}``. When a token is set, every request must carry it (``Authorization: Bearer T``,
or ``?token=T`` for the page itself), else 401. The store calls run in a thread pool, so the event loop
stays free; training runs in its own process (``seqlab.annotate.trainer``).
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from seqlab.annotate.queue import Queue
from seqlab.annotate.requests import BODY_LIMIT, parse_answer, parse_name, parse_undo
from seqlab.annotate.store import Store
from seqlab.annotate.trainer import Trainer
from seqlab.serve.app import ERROR_HANDLERS, error, healthz, read_body
from seqlab.serve.requests import RequestError

PAGE = Path(str(resources.files("seqlab.annotate") / "page"))


@dataclass
class Service:
    """What the routes share."""

    store: Store
    queue: Queue
    labels: list[str]
    strategy: str
    token: str | None = None
    trainer: Trainer | None = None
    timings: list[float] = field(default_factory=list)


class TokenCheck(BaseHTTPMiddleware):
    """401 for any request without the service's token (header, or ``token`` in the query)."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.startswith("Bearer ") else request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return error(401, "this service needs its token: Authorization: Bearer TOKEN (or ?token=TOKEN on the page's address)")
        return await call_next(request)


def sentence_payload(service: Service, sentence: int, annotator: str) -> dict[str, Any] | None:
    found = service.store.sentence(sentence)
    if found is None:
        return None
    suggestion = service.queue.suggestion(sentence)
    return {
        "id": found.id, "text": found.text, "tokens": list(found.tokens), "offsets": [list(o) for o in found.offsets],
        "suggestion": None if suggestion is None else {"model": suggestion[0], "score": suggestion[1], "spans": [list(s) for s in suggestion[2]]},
        "history": [{"annotator": row["annotator"], "action": row["action"], "spans": json.loads(row["spans"]), "created": row["created"]}
                    for row in service.store.history(sentence)][-5:],
    }


def progress(service: Service, annotator: str, answered: dict[int, set[str]] | None = None) -> dict[str, Any]:
    """What the page shows above and below the sentence; ``answered``: ``Store.answered`` when the caller
    has just read it."""
    answered = service.queue.answered() if answered is None else answered
    mine = sum(annotator in who for who in answered.values())
    models = service.store.models()
    latest = models[-1] if models else None
    return {
        "pool": service.queue.size, "answered": len(answered), "mine": mine, "remaining": service.queue.size - len(answered),
        "model": None if latest is None else {"version": latest["version"], "answers": latest["answers"], "dev_f1": latest["dev_f1"], "seconds": latest["seconds"]},
        "training": bool(service.trainer and service.trainer.alive), "strategy": service.strategy,
    }


def create_app(service: Service) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher = None
        if service.trainer is not None:
            service.trainer.start()

            async def watch() -> None:
                while True:
                    await asyncio.sleep(2.0)
                    service.trainer.watch()

            watcher = asyncio.create_task(watch())
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            if service.trainer is not None:
                service.trainer.close()

    async def timed(handler: Any, request: Request) -> Response:
        began = time.perf_counter()
        try:
            return await handler(request)
        except RequestError as err:
            return error(err.status, err.message)
        finally:
            service.timings.append(time.perf_counter() - began)
            del service.timings[:-10_000]

    def route(path: str, handler: Any, methods: Sequence[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await timed(handler, request)

        return Route(path, endpoint, methods=list(methods))

    async def state(request: Request) -> Response:
        annotator = parse_name(request.query_params.get("annotator", "annotator"))
        return JSONResponse({"labels": service.labels, **await run_in_threadpool(progress, service, annotator)})

    async def next_sentence(request: Request) -> Response:
        annotator = parse_name(request.query_params.get("annotator", "annotator"))
        chosen, answered = await run_in_threadpool(service.queue.choose, annotator)
        payload = None if chosen is None else await run_in_threadpool(sentence_payload, service, chosen, annotator)
        return JSONResponse({"sentence": payload, "progress": await run_in_threadpool(progress, service, annotator, answered)})

    async def one_sentence(request: Request) -> Response:
        annotator = parse_name(request.query_params.get("annotator", "annotator"))
        raw = request.path_params["sentence"]
        if not raw.isdigit() or len(raw) > 12:
            raise RequestError(404, f"no sentence {raw[:20]!r}")
        payload = await run_in_threadpool(sentence_payload, service, int(raw), annotator)
        if payload is None:
            raise RequestError(404, f"no sentence {raw}")
        return JSONResponse({"sentence": payload})

    async def answer(request: Request) -> Response:
        body = await read_body(request, BODY_LIMIT)
        parsed = parse_answer(body, service.labels)
        found = await run_in_threadpool(service.store.sentence, parsed.sentence)
        if found is None:
            raise RequestError(422, f"sentence: no sentence {parsed.sentence} in the pool")
        if any(end > len(found.tokens) for _, end, _ in parsed.spans):
            raise RequestError(422, f"spans: a span ends after the sentence's {len(found.tokens)} tokens")
        stored = await run_in_threadpool(service.store.answer, parsed.key, parsed.sentence, parsed.annotator, parsed.action, parsed.spans, parsed.model)
        service.queue.release(parsed.sentence, parsed.annotator)
        return JSONResponse({"stored": stored, "progress": await run_in_threadpool(progress, service, parsed.annotator)})

    async def undo(request: Request) -> Response:
        parsed = parse_undo(await read_body(request, BODY_LIMIT))
        sentence = await run_in_threadpool(service.store.undo, parsed.key, parsed.annotator)
        if sentence is not None:
            service.queue.hold(sentence, parsed.annotator)
        return JSONResponse({"sentence": sentence})

    async def index(request: Request) -> Response:
        return FileResponse(PAGE / "index.html")

    routes = [
        route("/api/state", state, ["GET"]),
        route("/api/next", next_sentence, ["GET"]),
        route("/api/sentence/{sentence}", one_sentence, ["GET"]),
        route("/api/answer", answer, ["POST"]),
        route("/api/undo", undo, ["POST"]),
        route("/healthz", healthz, ["GET"]),
        Route("/", index, methods=["GET"]),
        Mount("/page", StaticFiles(directory=PAGE), name="page"),
    ]
    middleware = [Middleware(TokenCheck, token=service.token)] if service.token else []
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware, exception_handlers=ERROR_HANDLERS)
