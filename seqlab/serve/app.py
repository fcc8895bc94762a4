"""The HTTP service: ``seqlab serve --model DIR``.

    POST /v1/tag       {"texts": [...]} or {"tokens": [[...], ...]}, options probs, nbest, split_sentences
                       → {"results": [[sentence, ...] per input]}, each sentence the object
                       ``seqlab predict --format jsonl`` prints (``seqlab.tagger.predict.record``)
    GET  /v1/model     name, tag set, vocabulary sizes, config summary, training metrics
    GET  /healthz      the process answers;  GET /readyz: the model is loaded and decoding
    GET  /openapi.json the API as OpenAPI 3.1;  GET /: the entity viewer page

Built on Starlette (the ASGI toolkit FastAPI is made of: routing, requests and responses with two small
dependencies, no validation layer, which ``seqlab.serve.requests`` is) and served by uvicorn. Requests are
checked before they reach the model, so a bad one gets a 4xx ``{"error": ...}`` and never touches the
batch of the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from seqlab.errors import ModelError
from seqlab.serve.batching import Batcher, Decoder
from seqlab.serve.decoder import DecodeProcess
from seqlab.serve.openapi import OPENAPI
from seqlab.serve.requests import Limits, RequestError, parse_tag_request
from seqlab.tagger.predict import record

STATIC = Path(str(resources.files("seqlab.serve") / "static"))


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


BODY_SECONDS = 30.0
"""How long a request's body may take to arrive (a client that sends its headers and then nothing holds
a connection, and once held up shutdown, for ever)."""


async def read_body(request: Request, limit: int, seconds: float = BODY_SECONDS) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes, or (408) when it has not all arrived
    within ``seconds``; a client that goes away meanwhile is a 400 nobody reads, not a traceback."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"request body of {declared} bytes; at most {limit}")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"request body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), seconds)
    except asyncio.TimeoutError:
        raise RequestError(408, f"the request body did not arrive within {seconds:g} s") from None
    except ClientDisconnect:
        raise RequestError(400, "the client went away before its body arrived") from None


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the process answers."""
    return JSONResponse({"status": "ok"})


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, f"no such path: {request.url.path}")


async def wrong_method(request: Request, exc: Exception) -> Response:
    return error(405, f"{request.method} is not allowed on {request.url.path}")


ERROR_HANDLERS = {404: not_found, 405: wrong_method}
"""404 and 405 as ``{"error": ...}`` JSON, like every other refusal."""


def answer_json(inputs: Any, analyses: list) -> bytes:
    """The ``/v1/tag`` answer as JSON bytes (built off the event loop: a large answer takes seconds)."""
    results, at = [], 0
    for group in inputs:
        results.append([record(a) for a in analyses[at : at + len(group)]])
        at += len(group)
    return json.dumps({"results": results}, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def create_app(
    decoder: Decoder, summary: dict[str, Any], limits: Limits = Limits(), max_batch: int = 64, max_wait: float = 0.0, body_seconds: float = BODY_SECONDS,
) -> Starlette:
    """The service for ``decoder`` (a ``DecodeProcess``, or a ``Tagger`` in this process), described by
    ``summary`` (``seqlab.serve.decoder.model_summary``)."""
    state: dict[str, Any] = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        batcher = Batcher(decoder, max_batch, max_wait)
        worker = asyncio.create_task(batcher.run())
        state.update(batcher=batcher, ready=True)
        try:
            yield
        finally:
            state["ready"] = False
            worker.cancel()
            batcher.executor.shutdown(wait=False, cancel_futures=True)

    async def tag(request: Request) -> Response:
        try:  # tokenising runs off the event loop, so other requests are answered meanwhile
            parsed = await run_in_threadpool(parse_tag_request, await read_body(request, limits.max_request_bytes, body_seconds), limits)
        except RequestError as err:
            return error(err.status, err.message)
        sentences = parsed.sentences
        try:
            analyses = await state["batcher"].tag(sentences, parsed.probs, parsed.nbest) if sentences else []
        except ModelError as err:
            return error(503, f"the model could not decode the request: {err}")
        return Response(await run_in_threadpool(answer_json, parsed.inputs, analyses), media_type="application/json")

    async def model(request: Request) -> Response:
        return JSONResponse(summary)

    async def readyz(request: Request) -> Response:
        ready = state["ready"] and getattr(decoder, "alive", True)
        return JSONResponse({"ready": True}) if ready else JSONResponse({"ready": False}, status_code=503)

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    routes = [
        Route("/v1/tag", tag, methods=["POST"]),
        Route("/v1/model", model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/", index, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=ERROR_HANDLERS)


def serve(directory: str | Path, host: str = "127.0.0.1", port: int = 8000, limits: Limits = Limits(), max_batch: int = 64,
          max_wait: float = 0.0, device: str = "cpu", threads: int = 1, quiet: bool = False, body_seconds: float = BODY_SECONDS) -> None:
    """Load the model in its decoding process (with ``threads`` torch threads) and serve it until
    interrupted."""
    import uvicorn

    decoder = DecodeProcess(directory, device, threads)
    try:
        app = create_app(decoder, decoder.summary, limits, max_batch, max_wait, body_seconds)
        # an idle keep-alive connection is closed after 5 s, and shutdown waits at most 5 s for open ones
        uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info", access_log=False, timeout_keep_alive=5, timeout_graceful_shutdown=5)
    finally:
        decoder.close()
