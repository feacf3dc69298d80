"""A router plugin (README, "Plugins"): only the partners a shop has signed up may call its API. A request
names its partner in a header; one not on the allow-list is refused before any work is done, a listed one
is passed on to every subgraph under a header of the router's own, and a partner with read-only access
cannot reach a mutation.

```yaml
plugins:
  - module: "examples.plugins.partner_gate:PartnerGate"
    config:
      header: x-partner-id           # what the partner sends (default x-partner-id)
      allowed: [acme, globex]        # every partner that may call
      read_only: [globex]            # these may query but not mutate
      forward_as: x-myshop-partner   # what the subgraphs get (default x-myshop-partner)
      first_party: true              # a request without the header passes (the shop's own apps)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.plugins import Refusal, RouterRequest, SubgraphRequest


class PartnerGate:
    def __init__(self, config: Mapping[str, Any]) -> None:
        allowed = config.get("allowed")
        if not isinstance(allowed, list) or not all(isinstance(p, str) for p in allowed):
            raise ValueError("`allowed` must list the partner ids that may call")
        self.allowed = frozenset(allowed)
        self.read_only = frozenset(config.get("read_only") or ())
        unknown = sorted(self.read_only - self.allowed)
        if unknown:
            raise ValueError(f"`read_only` names partners not in `allowed`: {', '.join(unknown)}")
        self.header = str(config.get("header", "x-partner-id")).lower()
        self.forward_as = str(config.get("forward_as", "x-myshop-partner")).lower()
        self.first_party = bool(config.get("first_party", False))

    def router_request(self, request: RouterRequest) -> Refusal | None:
        # Whatever the client sent under our own header is not believed: only the gate sets it.
        request.headers.pop(self.forward_as, None)
        partner = request.headers.get(self.header)
        if partner is None:
            if self.first_party:
                return None
            return Refusal(f"send your partner id in {self.header}", code="PARTNER_REQUIRED", status=401)
        if partner not in self.allowed:
            return Refusal("this partner may not call the API", code="PARTNER_NOT_ALLOWED", status=403)
        request.context["partner"] = partner
        return None

    def subgraph_request(self, request: SubgraphRequest) -> Refusal | None:
        partner = request.context.get("partner")
        if partner is None:
            return None
        if request.mutation and partner in self.read_only:
            return Refusal("this partner has read-only access", code="PARTNER_READ_ONLY")
        request.headers[self.forward_as] = partner
        return None
