"""``python -m runner serve``: the local Supabase surface.

One ASGI app in front of the embedded (or any) Postgres that speaks what the
official clients use: ``/rest/v1`` (PostgREST subset), ``/auth/v1`` (GoTrue subset),
``/realtime/v1/websocket`` (Phoenix channels) and the web UI at ``/``.
"""
