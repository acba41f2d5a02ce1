"""The playground: a page on this machine where a learner watches backpropagation happen.

    chainrule playground [--host 127.0.0.1] [--port 8765] [--no-browser]

The server (``server``, a Starlette app run by uvicorn) trains a chainrule ``Network`` in a thread
of its own per page (``session``), through the training hooks, and streams snapshots to the page
over a WebSocket; ``views`` computes what the page draws and, with ``chainrule.trace``, the
numbers behind a neuron or a weight; ``config`` reads the URL query that holds the
configuration; ``data`` makes the data sets and reads an uploaded CSV file. The page
(``static/``: HTML, CSS and JavaScript written here) loads nothing from the internet.

It needs the optional dependencies: ``pip install "chainrule[playground]"``.
"""

__all__ = ["create_app", "serve", "host_names", "DEFAULT_PORT"]

DEFAULT_PORT = 8765


def _require():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ImportError('the playground needs Starlette and uvicorn, which are not installed; install them with: '
                          'pip install "chainrule[playground]"') from None


def create_app(allowed_hosts=None):
    """The playground's ASGI app (see ``chainrule.playground.server.create_app``)."""
    _require()
    from .server import create_app as create

    return create(allowed_hosts)


def serve(host="127.0.0.1", port=DEFAULT_PORT, open_browser=True):
    """Serve the playground on http://host:port until interrupted; open it in the browser.

    The server answers only requests addressed to ``host`` or this machine's own names, and binds
    to ``host`` alone: 127.0.0.1 (the default) is reachable from this machine only. ``port`` is
    1 … 65535 (0, "any free port", would leave the address to open unknown)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"the port (--port) must be a whole number from 1 to 65535, got {port!r}")
    _require()
    import threading
    import warnings
    import webbrowser

    import uvicorn

    from ..diagnostics import DiagnosticWarning
    from .server import MAX_MESSAGE_BYTES

    _check_free(host, port)
    app = create_app(allowed_hosts=host_names(host))
    shown = "127.0.0.1" if host in WILDCARDS else host
    url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
    # the page shows every finding with its fix; the terminal does not need them too
    warnings.simplefilter("ignore", DiagnosticWarning)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, ws_max_size=MAX_MESSAGE_BYTES,
                                           log_level="warning"))
    print(f"chainrule playground: {url}  (Ctrl+C stops it)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    server.run()


WILDCARDS = ("0.0.0.0", "::")  # every interface of this machine


def host_names(host):
    """The names a request's Host header may carry: this machine's loopback names and ``host``; for
    a wildcard host (every interface, to be reached from elsewhere) also this machine's name and
    addresses. A page elsewhere that rebinds its own name to this machine is still refused."""
    import contextlib
    import socket

    from .server import LOCAL_HOSTS

    names = {*LOCAL_HOSTS, host, f"[{host}]" if ":" in host else host}
    if host in WILDCARDS:
        name = socket.gethostname()
        names |= {name, socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= set(socket.gethostbyname_ex(name)[2])
    return sorted(names)


def _check_free(host, port):
    """Bind ``host``:``port`` once, so that an address in use or not of this machine is an OSError
    (one line on the command line) rather than uvicorn's log and exit."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            fix = "; choose another with --port" if e.errno == errno.EADDRINUSE else \
                "; give --host an address of this machine (127.0.0.1: this machine only)"
            raise OSError(f"cannot listen on {host}:{port}: {(e.strerror or str(e)).lower()}{fix}") from None
