"""The service's API as an OpenAPI 3.1 document (``GET /openapi.json``), written out by hand: the
service validates requests itself (``seqlab.serve.requests``), and this says the same."""
from __future__ import annotations

from typing import Any

from seqlab import __version__
from seqlab.tagger.inference import MAX_NBEST

_ERROR = {"description": "the request is refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "seqlab tagging service", "version": __version__,
             "description": "Tags raw text or tokens with a trained seqlab model. Sentences of concurrent requests are decoded together."},
    "paths": {
        "/v1/tag": {"post": {
            "summary": "Tag texts or token lists",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TagRequest"}}}},
            "responses": {"200": {"description": "one list of sentences per input", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TagResponse"}}}},
                          "400": _ERROR, "413": _ERROR, "422": _ERROR},
        }},
        "/v1/model": {"get": {"summary": "The model: name, tag set, vocabulary sizes, config summary, training metrics",
                              "responses": {"200": {"description": "the model", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/healthz": {"get": {"summary": "The process answers", "responses": {"200": {"description": "ok"}}}},
        "/readyz": {"get": {"summary": "The model is loaded and decoding", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
    },
    "components": {"schemas": {
        "TagRequest": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "texts": {"type": "array", "items": {"type": "string"}, "description": "raw texts, tokenised as seqlab predict does"},
                "tokens": {"type": "array", "items": {"type": "array", "items": {"type": "string", "minLength": 1}}},
                "probs": {"type": "boolean", "default": False, "description": "token marginals and span confidences"},
                "nbest": {"type": "integer", "minimum": 0, "maximum": MAX_NBEST, "default": 0},
                "split_sentences": {"type": "boolean", "default": False, "description": "texts only: cut each text into sentences"},
            },
            "oneOf": [{"required": ["texts"]}, {"required": ["tokens"]}],
        },
        "TagResponse": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/Sentence"}}}}},
        "Sentence": {
            "type": "object", "required": ["tokens", "tags", "spans"],
            "properties": {
                "tokens": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "in the scheme of the model's training files"},
                "offsets": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                            "description": "texts only: each token's [start, end) in its text"},
                "probs": {"type": "array", "items": {"type": "number"}},
                "spans": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}},
                "nbest": {"type": "array", "items": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}, "prob": {"type": "number"}}}},
            },
        },
        "Span": {
            "type": "object", "required": ["start", "end", "type", "text"],
            "properties": {
                "start": {"type": "integer"}, "end": {"type": "integer", "description": "one past the last token"},
                "type": {"type": "string"}, "text": {"type": "string"},
                "start_char": {"type": "integer"}, "end_char": {"type": "integer", "description": "texts only: text == input[start_char:end_char]"},
                "confidence": {"type": "number", "description": "with probs"},
            },
        },
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    }},
}
