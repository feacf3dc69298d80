"""The router's doors and its HTTP surface: the ASGI app (app.py: routes, health, readiness, metrics,
GraphiQL's page and assets, lifespan) and three thin adapters that read their transport into a GraphQLRequest,
hand it to the pipeline (router/pipeline/entry.py) and frame its answer: GraphQL over HTTP (graphql.py), over
Server-Sent Events (sse.py) and over WebSocket (websocket.py)."""
