"""Headers the router tests send past the HTTP edge: the ops token (`/metrics`, the detailed `/health/ready`)
that conftest.py gives every router these tests start, through the environment (subprocesses too), and the
header that lets a GET query through CSRF prevention."""

from __future__ import annotations

OPS_TOKEN = "router-tests-ops-token"
OPS = {"authorization": f"Bearer {OPS_TOKEN}"}
PREFLIGHT = {"apollo-require-preflight": "true"}
