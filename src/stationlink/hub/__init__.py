"""The central hub (``docs/hub.md``): HTTP API, storage interface, export, client.

Modules: :mod:`.app` (Starlette app), :mod:`.store` (storage interface),
:mod:`.sqlite_store` (embedded SQLite store), :mod:`.server` (uvicorn runner),
:mod:`.tokens`, :mod:`.closing` (month close), :mod:`.export`, :mod:`.client`
(:class:`HubClient` for the sync agent), :mod:`.wire` (JSON shapes), :mod:`.openapi`.
Import what you need from the submodules; this package imports nothing heavy on its own,
and :mod:`.client` does not import the server side (no Starlette, no uvicorn: the agent
loads only what it uses).
"""
