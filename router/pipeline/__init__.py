"""The one transport-neutral pipeline every door enters (HTTP, SSE, WebSocket), one module per stage:

entry.py         Pipeline: request span → gateway lease → edge → the gateway's stages; RequestError out
request.py       GraphQLRequest: the request whatever its door; its parameters checked once
errors.py        RequestError and the codes: every refusal, framed by the doors
batch.py         query batching: a batch's checks, its entries run concurrently and isolated, its metrics
edge/            limits.py (size) → persisted.py (APQ, safelist) → auth.py (JWT) → rate_limit.py
gateway.py       the stages bound to one supergraph (what a hot reload swaps):
  document.py      parse.py → bound.py (depth, aliases) → validate.py, cached by text
  select.py        the operation, and the HTTP method it allows
  variables.py     coerce the variables
  cost.py          demand control: the estimate (pricing.py's @cost/@listSize) checked before the plan; the
                   answer's actual cost (cost_actual.py)
  plan.py          normalize.py → router/planner, cached by (text, operation name)
  execute.py       router/execution (fetches, merge) → shape; introspection.py; a subscription's stream
"""
