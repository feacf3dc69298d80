"""The router tests' environment (their one way to run a router, `start_router(supergraph, **config)`, is
tests/conftest.py's, shared with every other directory)."""

from __future__ import annotations

import os

from edge_headers import OPS_TOKEN

# Every router these tests start (in process or as `myshop router`) opens `/metrics` to this token.
os.environ.setdefault("MYSHOP_ROUTER_OPS__TOKEN", OPS_TOKEN)
