"""A router plugin (README, "Plugins"): one audit line per GraphQL request (who, which operation, which
subgraphs it reached, the error codes it answered, how long it took), and the number of subgraph fetches
in a response header a client or a proxy can read (the work a request caused, beside its estimated cost).

```yaml
plugins:
  - module: "examples.plugins.audit_log:AuditLog"
    config:
      logger: myshop.audit                       # where the lines go (default myshop.audit)
      fetches_header: x-myshop-subgraph-fetches  # "" for no header
```
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from router.plugins import RouterRequest, RouterResponse, SubgraphResponse

_STARTED = "audit_log.started"
_FETCHES = "audit_log.fetches"


class AuditLog:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.logger = logging.getLogger(str(config.get("logger", "myshop.audit")))
        self.fetches_header = str(config.get("fetches_header", "x-myshop-subgraph-fetches")).lower()

    def router_request(self, request: RouterRequest) -> None:
        request.context[_STARTED] = time.perf_counter()

    def subgraph_response(self, response: SubgraphResponse) -> None:
        # The context is the request's own; the fetches of one request may run concurrently but on one
        # event loop, so appending needs no lock.
        response.context.setdefault(_FETCHES, []).append(response.subgraph)

    def router_response(self, response: RouterResponse) -> None:
        context = response.context
        fetches: list[str] = context.get(_FETCHES, [])
        if self.fetches_header:
            response.headers[self.fetches_header] = str(len(fetches))
        started = context.get(_STARTED)
        principal = context.principal
        codes = sorted(
            {
                str(error["extensions"]["code"])
                for error in response.body.get("errors") or ()
                if isinstance(error, dict)
                and isinstance(error.get("extensions"), dict)
                and "code" in error["extensions"]
            }
        )
        entry = {
            "request_id": context.request_id,
            "subject": principal.subject if principal is not None else None,
            "partner": context.get("partner"),  # examples/plugins/partner_gate.py's, when it runs first
            "operation": context.operation_name,
            "type": context.operation_type,
            "door": context.door,
            "status": response.status,
            "subgraphs": sorted(set(fetches)),
            "fetches": len(fetches),
            "errors": codes,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started is not None else None,
        }
        self.logger.info("audit %s", json.dumps(entry, sort_keys=True))
