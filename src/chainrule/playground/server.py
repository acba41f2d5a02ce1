"""The playground's ASGI app (Starlette): the page, its WebSocket, the upload and the exports.

    GET  /                        the page (static/index.html); its scripts and styles under /static
    WS   /ws                      one page's session: JSON commands in, snapshots and answers out
    POST /api/upload              a CSV file as the request body (header X-Chainrule-Session: the token)
    GET  /api/export/model        ?session=TOKEN: the network as a .npz file (Network.save)
    GET  /api/export/trace        ?session=TOKEN&format=markdown|latex|json: the current step's trace

Safety: requests must name this machine in their Host header (a page elsewhere cannot reach the
server by rebinding a name to 127.0.0.1), a WebSocket or upload from another page's origin is
refused, an upload is capped and parsed in memory (load_csv reads it from a temporary folder
that is then removed), nothing the browser sends is used as a path, and a bad message or
configuration is answered with a message while the server keeps running.
"""

import asyncio
import collections
import json
import secrets
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from ..jsonsafe import json_safe
from . import config as configuration
from . import data as datasets
from .session import Run
from .views import build_network

__all__ = ["create_app", "MAX_MESSAGE_BYTES", "MAX_SESSIONS"]

MAX_MESSAGE_BYTES = 64 * 1024  # a command from the page; the largest, a configuration, is far smaller
MAX_SESSIONS = 16  # pages open at once, each with its training thread
EXPORT_SECONDS = 30  # the longest an export waits for the training thread (it answers between batches)
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
CSP = ("default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class Session:
    """One page: its WebSocket's outgoing messages, its configuration, its upload and its Run."""

    def __init__(self, token, loop):
        self.token, self.loop = token, loop
        self.config, self.upload, self.run, self.generation = None, None, None, 0
        self.outbox = collections.deque()  # messages in order
        self.snapshot = None  # only the latest snapshot is worth sending
        self.ready = asyncio.Event()

    def sender(self, generation):
        """A thread-safe ``send`` for the Run of this generation: a Run replaced by a newer one
        (a new configuration, reset) is no longer heard."""
        def send(message):
            try:
                self.loop.call_soon_threadsafe(self._post, generation, message)
            except RuntimeError:  # the event loop has closed (the server stopped): no page to tell
                pass
        return send

    def post(self, message):
        """Queue a message from the event loop's thread."""
        self._post(self.generation, message)

    def _post(self, generation, message):
        if generation != self.generation:
            return
        if message.get("type") == "snapshot":
            self.snapshot = message
        else:
            self.outbox.append(message)
        self.ready.set()

    async def pump(self, websocket):
        """Send what is queued, the latest snapshot last, as it comes, until the page goes."""
        try:
            await self._pump(websocket)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the page closed; the receiving side ends the session

    async def _pump(self, websocket):
        while True:
            await self.ready.wait()
            self.ready.clear()
            while self.outbox or self.snapshot:
                message = self.outbox.popleft() if self.outbox else self.snapshot
                if message is self.snapshot:
                    self.snapshot = None
                # JSON has no NaN or infinity (a diverged run's numbers): they go out as null
                await websocket.send_text(json.dumps(json_safe(message), allow_nan=False))

    async def configure(self, query):
        """Build data, network and Run from a query; the old Run is closed once the new one exists."""
        config = configuration.parse(query)
        data, net = await asyncio.to_thread(_build, config, self.upload)
        if self.run is not None:
            self.run.close()
        self.generation += 1
        self.config, self.outbox, self.snapshot = config, collections.deque(), None
        self.run = Run(config, data, net, self.sender(self.generation))
        self.post({"type": "ready", "session": self.token, "config": config.query(), "data": data.describe(),
                   "network": {"sizes": [net.n_in] + [layer.n_out for layer in net.layers],
                               "activations": [layer.activation.name for layer in net.layers],
                               "loss": net.loss.name, "optimizer": config.optimizer}})
        self.run.start()

    async def receive(self, text):
        """One command from the page; a bad one is answered with an error message."""
        message = _message(text)
        kind = message["type"]
        if kind == "config":
            await self.configure(message.get("query"))
        elif kind == "reset":
            if self.config is None:
                raise ValueError("nothing to reset yet: send a configuration first")
            await self.configure(self.config.query())
        elif self.run is None:
            raise ValueError(f"{kind!r} needs a network: send a configuration first")
        elif kind in ("play", "pause", "step", "snapshot"):
            self.run.command(kind)
        elif kind == "select":
            self.run.command("select", rows=_rows(message.get("rows"), len(self.run.data.X_train)))
        elif kind == "detail":
            self.run.command("detail", what=_what(message.get("what"), self.run.net))
        else:
            raise ValueError(f"unknown command {kind!r}; the commands are config, play, pause, step, reset, "
                             "select, detail and snapshot")

    def close(self):
        if self.run is not None:
            self.run.close()
        self.generation += 1


def _build(config, upload):
    data = datasets.make(config, upload)
    return data, build_network(config, data)


def _message(text):
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a command must be a JSON text of at most {MAX_MESSAGE_BYTES:,} characters")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("a command must be a JSON object like {\"type\": \"play\"}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("a command must be a JSON object with a \"type\", like {\"type\": \"play\"}")
    return message


def _index(value, low, high, what):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _rows(rows, n):
    if not isinstance(rows, list) or len(rows) > 16:
        raise ValueError("select needs a list of at most 16 training rows")
    return [_index(r, 0, n - 1, "a selected row") for r in rows]


def _what(what, net):
    """A neuron {"kind": "neuron", "layer", "unit"} or a weight {"kind": "weight", "layer", "from",
    "to"}, 1-based, checked against the network (inputs are layer 0)."""
    if not isinstance(what, dict) or what.get("kind") not in ("neuron", "weight"):
        raise ValueError('detail needs "what": {"kind": "neuron", "layer", "unit"} or {"kind": "weight", "layer", '
                         '"from", "to"}')
    layer = _index(what.get("layer"), 1, len(net.layers), "the layer")
    n_in, n_out = net.layers[layer - 1].n_in, net.layers[layer - 1].n_out
    if what["kind"] == "neuron":
        return {"kind": "neuron", "layer": layer, "unit": _index(what.get("unit"), 1, n_out, "the unit")}
    return {"kind": "weight", "layer": layer, "from": _index(what.get("from"), 1, n_in, "the weight's input"),
            "to": _index(what.get("to"), 1, n_out, "the weight's unit")}


# ---- the app ---------------------------------------------------------------------------------


def create_app(allowed_hosts=None):
    """The Starlette app. ``allowed_hosts``: the names the Host header may carry (default this
    machine's: 127.0.0.1, localhost, ::1)."""
    routes = [
        Route("/", _page),
        Route("/favicon.ico", _no_icon),
        WebSocketRoute("/ws", _socket),
        Route("/api/upload", _upload, methods=["POST"]),
        Route("/api/export/{what}", _export),
        Mount("/static", StaticFiles(packages=[(__package__, "static")]), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware,
                                                          allowed_hosts=list(allowed_hosts or LOCAL_HOSTS))])
    app.state.sessions = {}  # token → Session, one per open page
    return app


async def _page(request):
    page = resources.files(__package__).joinpath("static", "index.html").read_text(encoding="utf-8")
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


async def _no_icon(request):
    return Response(status_code=204)


async def _socket(websocket):
    sessions = websocket.app.state.sessions
    if not _same_origin(websocket.headers):
        await websocket.close(code=1008, reason="cross-origin WebSocket refused")
        return
    await websocket.accept()
    if len(sessions) >= MAX_SESSIONS:
        await websocket.send_text(json.dumps({"type": "error", "message": f"{MAX_SESSIONS} pages are open "
                                              "already; close one and reload"}))
        await websocket.close()
        return
    await _serve_socket(websocket, sessions)


async def _upload(request):
    """A CSV file as the request body, read in memory up to the cap; only its header is read now."""
    session = request.app.state.sessions.get(request.headers.get("x-chainrule-session", ""))
    if not _same_origin(request.headers) or session is None:
        return JSONResponse({"error": "upload refused: not from this page's session"}, status_code=403)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > datasets.MAX_UPLOAD_BYTES:
            return JSONResponse({"error": f"the file is larger than {datasets.MAX_UPLOAD_BYTES // 2**20} MiB, the "
                                          "limit for an upload"}, status_code=413)
    try:
        columns = datasets.csv_columns(bytes(body))
    except ValueError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    session.upload = bytes(body)
    return JSONResponse({"columns": columns})


async def _export(request):
    """The model (.npz) or the current step's trace (Markdown, LaTeX, JSON), from the training thread."""
    session = request.app.state.sessions.get(request.query_params.get("session", ""))
    what = request.path_params["what"]
    fmt = request.query_params.get("format", "markdown")
    if session is None or session.run is None:
        return JSONResponse({"error": "no such session: reload the page"}, status_code=404)
    if what not in ("model", "trace") or (what == "trace" and fmt not in ("markdown", "latex", "json")):
        return JSONResponse({"error": "export model, or trace with format markdown, latex or json"}, status_code=404)
    result = await _ask(session.run, f"export_{what}", **({"format": fmt} if what == "trace" else {}))
    if isinstance(result, Exception):
        return JSONResponse({"error": str(result)}, status_code=400)
    name = {"model": "chainrule-playground.npz", "markdown": "trace.md", "latex": "trace.tex",
            "json": "trace.json"}["model" if what == "model" else fmt]
    media = "application/octet-stream" if what == "model" else "text/plain; charset=utf-8"
    return Response(result, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _same_origin(headers):
    """True unless an Origin header names another origin than the Host the request came to (a
    browser always sends Origin with a WebSocket or a POST; a page elsewhere cannot forge it)."""
    origin = headers.get("origin")
    return origin is None or origin in (f"http://{headers.get('host')}", f"https://{headers.get('host')}")


async def _serve_socket(websocket, sessions):
    token = secrets.token_urlsafe(16)
    session = sessions[token] = Session(token, asyncio.get_running_loop())
    pump = asyncio.create_task(session.pump(websocket))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                await session.receive(message.get("text"))
            except (ValueError, MemoryError) as e:
                session.post({"type": "error", "message": str(e)})
    except WebSocketDisconnect:
        pass
    finally:
        session.close()
        sessions.pop(token, None)
        pump.cancel()


async def _ask(run, kind, **args):
    """Run's answer to an export command, or a TimeoutError's message if it does not come."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def reply(result):
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

    run.command(kind, reply=reply, **args)
    try:
        return await asyncio.wait_for(future, EXPORT_SECONDS)
    except asyncio.TimeoutError:
        return TimeoutError("the training thread did not answer in time; pause and try again")
