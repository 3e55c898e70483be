"""An HTTP endpoint for an exported student (FastAPI, served by uvicorn on 127.0.0.1 unless told otherwise).

- ``POST /predict`` with ``{"text": "..."}`` or ``{"texts": ["...", ...]}`` →
  ``{"predictions": [{"label", "score", "scores"}, ...]}``;
- ``GET /health`` → ``{"ok": true}``;
- ``GET /metadata`` → task, labels, model kind, parameters, test metrics, int8 parity.

Requests are bounded: at most ``MAX_BODY_BYTES`` of body, ``MAX_TEXTS`` texts
and ``MAX_CHARS`` characters a text; anything else is a 4xx with a message
saying what was expected.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations (``Request``) at definition.
import json
from pathlib import Path

MAX_BODY_BYTES = 1 << 20
MAX_TEXTS = 256
MAX_CHARS = 10_000


def metadata(clf) -> dict:
    """What the artifact says about itself (student.json and metrics.json beside the model)."""

    def read(name: str) -> dict:
        p = Path(clf.root) / name
        try:
            return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
        except ValueError:
            return {}

    meta, metrics = read("student.json"), read("metrics.json")
    return {
        "task": meta.get("task"),
        "language": meta.get("language"),
        "labels": [{"id": i, "name": n} for i, n in zip(clf.label_ids, meta.get("label_names") or clf.label_ids)],
        "kind": meta.get("kind"),
        "base": meta.get("base"),
        "params": meta.get("params"),
        "backend": clf.backend,
        "onnx": meta.get("onnx"),
        "metrics": {
            k: metrics.get(k)
            for k in ("accuracy", "macro_f1", "n", "texts_per_second", "latency_ms_per_text")
            if k in metrics
        },
        "parity": metrics.get("parity"),
    }


def make_app(clf):
    """The FastAPI app serving ``clf`` (a :class:`student.StudentClassifier`)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="model factory student", docs_url=None, redoc_url=None)
    info = metadata(clf)

    def bad(status: int, expected: str, found: str) -> JSONResponse:
        return JSONResponse({"ok": False, "error": f"expected {expected}; found {found}"}, status_code=status)

    @app.get("/health")
    def health():
        return {"ok": True}

    @app.get("/metadata")
    def get_metadata():
        return info

    @app.post("/predict")
    async def predict(request: Request):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return bad(413, f"a body of at most {MAX_BODY_BYTES} bytes", f"{size} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return bad(413, f"a body of at most {MAX_BODY_BYTES} bytes", f"{len(body)} bytes")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return bad(400, 'a UTF-8 JSON body like {"texts": ["..."]}', "something that is not JSON")
        if not isinstance(payload, dict) or ("text" in payload) == ("texts" in payload):
            return bad(
                422,
                'an object with "text" (one string) or "texts" (a list of strings)',
                type(payload).__name__ if not isinstance(payload, dict) else f"keys {sorted(payload)}",
            )
        texts = [payload["text"]] if "text" in payload else payload["texts"]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return bad(422, "one or more strings", repr(texts)[:80])
        if len(texts) > MAX_TEXTS:
            return bad(413, f"at most {MAX_TEXTS} texts a request", f"{len(texts)}")
        long = next((i for i, t in enumerate(texts) if len(t) > MAX_CHARS), None)
        if long is not None:
            return bad(413, f"texts of at most {MAX_CHARS} characters", f"text {long} with {len(texts[long])}")
        probs = clf.predict_proba(texts)
        labels = clf.label_ids
        return {
            "predictions": [
                {
                    "label": labels[int(p.argmax())],
                    "score": float(p.max()),
                    "scores": {lab: float(v) for lab, v in zip(labels, p)},
                }
                for p in probs
            ]
        }

    return app


def serve(clf, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``clf`` until interrupted."""
    import uvicorn

    uvicorn.run(make_app(clf), host=host, port=port, log_level="warning")
