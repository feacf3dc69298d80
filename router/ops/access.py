"""Who may read the operator's endpoints on the public port: `/metrics` and the detailed `/health/ready`
(subgraph URLs and latencies) answer only a request bearing `ops.token`; without it `/health/ready` says
ready or not and nothing more (what a load balancer needs), `/metrics` answers 401. `/health` (alive) stays
public.

A token rather than a second listener: one port to expose and to probe, the same with `--workers N`, and no
second port for every router a test or a benchmark starts on one machine; probes that must not carry a secret
(Kubernetes, docker-compose) use `/health` and the public `/health/ready`, Prometheus sends the token
(`authorization: {credentials_file: ...}`)."""

from __future__ import annotations

import hmac

from pydantic import BaseModel, SecretStr


class OpsConfig(BaseModel):
    """`ops:` in router.yaml; in the environment `MYSHOP_ROUTER_OPS__TOKEN`."""

    # The bearer token `/metrics` and the detailed `/health/ready` ask for; unset: neither is served.
    token: SecretStr | None = None


class OpsAccess:
    def __init__(self, config: OpsConfig) -> None:
        token = config.token.get_secret_value() if config.token is not None else ""
        self._expected = f"Bearer {token}".encode() if token else None

    def allows(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the request carries `Authorization: Bearer <ops.token>` (compared in constant time)."""
        if self._expected is None:
            return False
        for key, value in headers:
            if key == b"authorization":
                return hmac.compare_digest(value, self._expected)
        return False
