"""MyShop's Apollo Federation 2 router. Its rooms: http/ (the doors: HTTP, SSE, WebSocket, GraphiQL),
pipeline/ (the one pipeline every door enters, a module per stage), planner/, supergraph/, execution/
(executor, shaper, entity cache, subscriptions), upstream/ (subgraph transport, resilience, header rules),
ops/ (telemetry, metrics, hot reload, workers); config.py and server.py (the composition root) beside them."""
