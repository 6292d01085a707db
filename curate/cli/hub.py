"""`curate hub serve`: serve a Hub mirror directory on loopback through the Hub API subset curate uses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.app import app
from curate.errors import CurateError

hub_app = typer.Typer(help="A local Hub for offline work: serve a mirror directory.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")


@hub_app.command("serve")
def serve_cmd(
    directory: Annotated[Path, typer.Argument(help="Mirror directory (datasets.jsonl, cards/, authors.jsonl, optional files/ and history/).")],
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    latency: Annotated[float, typer.Option(help="Seconds added to every request, to mimic a remote Hub.")] = 0.0,
    quota: Annotated[
        list[str] | None,
        typer.Option("--quota", help="Enforce and announce a rate limit as the Hub does, BUCKET=REQUESTS/WINDOW "
                                     "(the anonymous Hub's: api=500/300, resolvers=3000/300); repeat."),
    ] = None,
) -> None:
    """Serve a Hub mirror so `curate snapshot --endpoint URL` (or HF_ENDPOINT) can read it.

    Example:

      curate hub serve data/hub-sample --port 8765 &

      curate snapshot --endpoint http://127.0.0.1:8765 --lang ko

    Data files under DIR/files/OWNER/NAME/ make OWNER/NAME readable as a corpus or benchmark:

      HF_ENDPOINT=http://127.0.0.1:8765 curate contamination --benchmark OWNER/NAME --corpus corpus/

    A quota makes it answer like the rate-limited Hub (RateLimit headers, 429 beyond the quota):

      curate hub serve data/hub-sample --quota api=50/10 --quota resolvers=100/10

    Repos with several revisions under DIR/history/OWNER/NAME/ (a dump of dataset cards, written by
    `python -m collectors.synthetic_dump DIR`) are read by `curate snapshot --from-dump`:

      curate snapshot --from-dump --endpoint http://127.0.0.1:8765
    """
    from collectors.hub_server import Quota, serve

    try:
        quotas = dict(Quota.parse(q) for q in quota or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--quota") from exc
    try:
        ctx = serve(directory, host=host, port=port, latency=latency, quotas=quotas)
        server = ctx.__enter__()
    except (FileNotFoundError, OSError) as exc:
        raise CurateError(str(exc)) from exc
    typer.echo(f"serving {directory} ({len(server.data.records)} datasets) at {server.url}; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ctx.__exit__(None, None, None)
