"""``embscope serve``: the web explorer's server on this machine."""

from __future__ import annotations

import click


@click.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; anything but loopback exposes the spaces to the network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="0: any free one.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests that name the server NAME (its host name on the network, or "
    "a proxy's); repeatable. Requests naming any other host are refused, so that a web page "
    "cannot reach the server by a name of its own (DNS rebinding). Loopback names, the --host "
    "address and, with --host 0.0.0.0 or ::, any IP address are always answered; '*' answers "
    "every name.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the browser.")
def serve(
    sources: tuple[str, ...], host: str, port: int, allow_hosts: tuple[str, ...], open_browser: bool
) -> None:
    """Serve SOURCES (default: minilm) to the web explorer: the API under /api, its OpenAPI
    description at /docs. Only these sources can be read through it.

    Requests that start or cancel a job must be JSON and come from no other site's page.
    Ctrl-C stops the server and cancels its jobs."""
    import contextlib
    import socket
    import threading
    import webbrowser

    import uvicorn

    from ..server import create_app
    from ..server.state import state_of

    app = create_app(list(sources) or ["minilm"], host=host, allowed_hosts=allow_hosts)
    # load every source now: a mistyped path fails here, in one line, not in the page later
    for source_id in state_of(app).spaces.ids:
        state_of(app).spaces.get(source_id)
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        # listening before the address is printed: a client that reads it and connects at
        # once waits in the queue instead of being refused while the app starts
        listener.listen(2048)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    address = f"http://{host if ':' not in host else f'[{host}]'}:{listener.getsockname()[1]}/"
    # a client that keeps a request open does not hold up Ctrl-C for more than a few seconds
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
    click.echo(f"serving {', '.join(sources) or 'minilm'} on {address} (Ctrl-C stops)")
    if host in ("0.0.0.0", "::"):
        names = ", ".join(["localhost", *allow_hosts])
        click.echo(
            f"listening on every address: requests naming this machine by an IP address or as "
            f"{names} are answered (--allow-host NAME adds a name)"
        )
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(address,)).start()
    # uvicorn re-raises the Ctrl-C it handled once it has shut down: the stop that was asked for
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])


COMMANDS = [serve]
