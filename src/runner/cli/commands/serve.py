"""``python -m runner serve``: the local Supabase surface in front of the database."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``serve`` command."""
    cmd = sub.add_parser(
        "serve",
        help="serve /rest/v1, /auth/v1, /realtime/v1 and the web UI (a local Supabase)",
        description=(
            "Serve the Supabase HTTP and websocket surface the official clients use, "
            "in front of the embedded PostgreSQL (or RUNNER_DATABASE_URL). Prints the URL "
            "and the anon and service_role keys and writes them to <data dir>/serve.env."
        ),
    )
    cmd.add_argument("--host", default=None, help="interface (default RUNNER_SERVE_HOST)")
    cmd.add_argument("--port", type=int, default=None, help="port (default RUNNER_SERVE_PORT)")
    cmd.set_defaults(func=_serve)


async def _serve(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from runner.db.connect import resolve_target
    from runner.db.migrate import migrate
    from runner.errors import ConfigError
    from runner.serve.app import create_app
    from runner.serve.keys import ServeKeys, load_or_create_secret, write_env_file
    from runner.serve.state import ServeState
    from runner.settings import Settings

    try:
        settings = Settings()
    except Exception as exc:
        raise ConfigError(f"invalid settings: {exc}") from None
    host = args.host or settings.serve_host
    port = settings.serve_port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {port}")
    configured = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    keys = ServeKeys.from_secret(load_or_create_secret(settings.data_dir, configured))

    # bind first: a taken port is a one-line error, not uvicorn's exit. IPPROTO_TCP
    # explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it Nagle + delayed ACK add ~40 ms to every response
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    port = listener.getsockname()[1]

    target = resolve_target(settings)
    await migrate(target)
    url = f"http://{host}:{port}"
    env_file = settings.data_dir / "serve.env"
    write_env_file(env_file, url, keys)
    state = ServeState(
        target=target,
        keys=keys,
        public_url=url,
        web_dir=settings.web_dir,
        stale_run_s=settings.stale_run_s,
    )
    print(f"serving the local Supabase surface at {url}")
    print(f"  database          {target.display}")
    print(f"  anon key          {keys.anon_key}")
    print(f"  service_role key  {keys.service_role_key}")
    print(f"  written to        {env_file}")
    print(f"  web UI            {url}/", flush=True)
    config = uvicorn.Config(
        create_app(state), log_level="warning", lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    await server.serve(sockets=[listener])
    return 0
