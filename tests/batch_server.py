"""A loopback server of OpenAI's Batch API, for tests and the benchmark (127.0.0.1 only).

Endpoints, as OpenAI documents them (platform.openai.com/docs/api-reference/batch):

    POST /v1/files              multipart upload (purpose=batch): a file object
    GET  /v1/files/{id}/content a file's bytes (inputs, outputs and error files)
    POST /v1/batches            a batch of one uploaded file: status "validating"
    GET  /v1/batches/{id}       the batch; "in_progress" until it has been polled ``polls``
                                times (and ``release`` is set), then ended
    GET  /v1/batches            every batch, the latest first

Each line is answered as ``fault_server.judge_reply`` answers it (the answer marked GOOD
wins; the same reply body, usage and logprobs as FaultServer sends synchronously), unless
``script`` maps the line's item tag (``ITEM-<tag>`` in the prompt) to one of:

    late    not run in time: in an expired batch, an error line "batch_expired"
    lost    no line at all (a partial output file)
    error   an error line with an error object
    500     an error line whose response is HTTP 500
    torn    its output line cut in half

``down`` (an Event): once set, every request is dropped without a reply.
``outcomes``: how successive batches end ("completed" by default, "expired", "failed":
no output at all, "cancelled"). A file over ``max_requests`` lines or ``max_bytes`` bytes
fails its batch, as OpenAI's limits do.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fault_server import FaultServer

_ITEM = re.compile(r"ITEM-(\w+)")
LINE_FAULTS = ("ok", "late", "lost", "error", "500", "torn")
OUTCOMES = ("completed", "expired", "failed", "cancelled")


class BatchServer:
    """``with BatchServer(polls=2, outcomes=["expired"], script={"3": "late"}) as s: s.url``"""

    def __init__(self, *, polls: int = 2, outcomes: list[str] | None = None,
                 script: dict[str, str] | None = None, hold: bool = False,
                 max_requests: int = 50_000, max_bytes: int = 200 * 1000 * 1000,
                 logprobs: bool = True) -> None:
        if set(outcomes or ()) - set(OUTCOMES) or set((script or {}).values()) - set(LINE_FAULTS):
            raise ValueError("unknown outcome or line fault")
        self.polls, self.outcomes, self.script = polls, list(outcomes or []), script or {}
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.release = threading.Event()  # hold=True: batches stay in progress until set
        if not hold:
            self.release.set()
        self.down = threading.Event()  # set: every request is dropped without a reply
        self._replies = FaultServer(logprobs=logprobs)  # its reply bodies, not its server
        self.files: dict[str, bytes] = {}
        self.uploads: list[str] = []  # ids of the files uploaded for batches, in order
        self.batches: dict[str, dict[str, Any]] = {}
        self.polled: Counter[str] = Counter()
        self.downloads: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def sent(self) -> list[dict[str, Any]]:
        """Every request line of every uploaded batch file, in upload order."""
        return [json.loads(line) for fid in self.uploads
                for line in self.files[fid].decode().splitlines() if line.strip()]

    def __enter__(self) -> BatchServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- the endpoints -------------------------------------------------------------------------
    def upload(self, content_type: str, body: bytes) -> tuple[int, Any]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
            return 400, {"error": {"message": "a file with purpose=batch is required"}}
        filename, data = fields["file"]
        with self._lock:
            fid = f"file-{next(self._ids)}"
            self.files[fid] = data
            self.uploads.append(fid)
        return 200, _file(fid, filename, len(data), "batch")

    def create(self, request: dict[str, Any]) -> tuple[int, Any]:
        fid = request.get("input_file_id")
        if fid not in self.files or request.get("completion_window") != "24h":
            return 400, {"error": {"message": f"no such file {fid} or window"}}
        lines = self.files[fid].decode().splitlines()
        with self._lock:
            bid = f"batch_{next(self._ids)}"
            outcome = self.outcomes.pop(0) if self.outcomes else "completed"
            self.batches[bid] = {
                "id": bid, "object": "batch", "endpoint": request.get("endpoint"),
                "errors": None, "input_file_id": fid, "completion_window": "24h",
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "metadata": request.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_outcome": outcome}
        return 200, _public(self.batches[bid])

    def retrieve(self, bid: str) -> tuple[int, Any]:
        with self._lock:
            batch = self.batches.get(bid)
            if batch is None:
                return 404, {"error": {"message": f"no batch {bid}"}}
            self.polled[bid] += 1
            if batch["status"] in ("validating", "in_progress"):
                done = self.polled[bid] >= self.polls and self.release.is_set()
                if done:
                    self._finish(batch)
                else:
                    batch["status"] = "in_progress"
                    counts = batch["request_counts"]
                    counts["completed"] = counts["total"] * self.polled[bid] // (self.polls + 1)
            return 200, _public(batch)

    def listing(self) -> tuple[int, Any]:
        """GET /v1/batches: every batch, the latest first (one page)."""
        with self._lock:
            data = [_public(b) for b in reversed(self.batches.values())]
        return 200, {"object": "list", "data": data, "has_more": False,
                     "first_id": data[0]["id"] if data else None,
                     "last_id": data[-1]["id"] if data else None}

    def content(self, fid: str) -> tuple[int, Any]:
        self.downloads.append(fid)
        data = self.files.get(fid)
        return (200, data) if data is not None else (404, {"error": {"message": "no file"}})

    # -- running a batch -----------------------------------------------------------------------
    def _finish(self, batch: dict[str, Any]) -> None:
        data = self.files[batch["input_file_id"]]
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        outcome = batch["_outcome"]
        problem = self._invalid(lines, data, batch["endpoint"])
        if outcome == "failed" or problem:
            batch.update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_file", "message": problem or "the batch failed validation",
                 "line": None, "param": None}]})
            return
        out, errors = [], []
        for line in lines:
            fault = self.script.get(_tag(line), "ok")
            if fault == "lost" or (fault == "late" and outcome in ("expired", "cancelled")):
                if fault == "late":
                    errors.append(_error_line(line, None, {
                        "code": f"batch_{outcome}", "message": "This request could not be "
                        f"executed before the batch was {outcome}."}))
                continue
            if fault == "error":
                errors.append(_error_line(line, None, {"code": "server_error",
                                                       "message": "the model tripped"}))
            elif fault == "500":
                errors.append(_error_line(line, {"status_code": 500, "request_id": "r",
                                                 "body": {"error": {"message": "overloaded"}}},
                                          None))
            else:
                text = json.dumps(self._answer(line["body"], batch["endpoint"]))
                row = json.dumps({"id": f"batch_req_{next(self._ids)}",
                                  "custom_id": line["custom_id"], "response": {
                                      "status_code": 200, "request_id": "r", "body": "@"},
                                  "error": None}).replace('"@"', text)
                out.append(row[:len(row) // 2] if fault == "torn" else row)
        out.reverse()  # lines come in any order
        batch["request_counts"].update(completed=len(out), failed=len(errors))
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                fid = f"file-{next(self._ids)}"
                self.files[fid] = ("\n".join(rows) + "\n").encode()
                batch[name] = fid
        batch["status"] = outcome

    def _invalid(self, lines: list[dict[str, Any]], data: bytes, endpoint: str) -> str | None:
        ids = [line.get("custom_id") for line in lines]
        if len(lines) > self.max_requests or len(data) > self.max_bytes:
            return f"{len(lines)} requests / {len(data)} bytes: over the limits"
        if len(set(ids)) != len(ids) or None in ids:
            return "custom_id missing or not unique"
        if any(line.get("method") != "POST" or line.get("url") != endpoint for line in lines):
            return "a line's method or url is not the batch's"
        return None

    def _answer(self, body: dict[str, Any], endpoint: str) -> Any:
        chat = endpoint.endswith("/chat/completions")
        prompt = "\n".join(m["content"] for m in body["messages"]) if chat else body["prompt"]
        return json.loads(self._replies._completion(body, prompt, self._replies.reply(prompt),
                                                    chat))


def _tag(line: dict[str, Any]) -> str:
    text = json.dumps(line["body"].get("messages") or line["body"].get("prompt"))
    return (_ITEM.search(text) or [None, "?"])[1]


def _error_line(line: dict[str, Any], response: Any, error: Any) -> str:
    return json.dumps({"id": "batch_req_x", "custom_id": line["custom_id"],
                       "response": response, "error": error})


def _file(fid: str, name: str, size: int, purpose: str) -> dict[str, Any]:
    return {"id": fid, "object": "file", "bytes": size, "created_at": int(time.time()),
            "filename": name, "purpose": purpose, "status": "processed"}


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    owner: BatchServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self._dropped():
            return
        if self.path == "/v1/files":
            self._send(*self.owner.upload(self.headers.get("content-type", ""), body))
        elif self.path == "/v1/batches":
            self._send(*self.owner.create(json.loads(body)))
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_GET(self) -> None:  # noqa: N802
        if self._dropped():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["v1", "batches"]:
            self._send(*self.owner.listing())
        elif len(parts) == 3 and parts[:2] == ["v1", "batches"]:
            self._send(*self.owner.retrieve(parts[2]))
        elif len(parts) == 4 and parts[:2] == ["v1", "files"] and parts[3] == "content":
            self._send(*self.owner.content(parts[2]))
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _dropped(self) -> bool:
        if self.owner.down.is_set():
            self.close_connection = True  # as a server that went away: no reply at all
        return self.owner.down.is_set()

    def _send(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/octet-stream" if isinstance(body, bytes)
                         else "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
