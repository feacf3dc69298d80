"""Everything between the router and its subgraphs: the HTTP transport (one pool per subgraph), the
resilient client around it (circuit breakers, retries, shared in-flight fetches), which client headers each
subgraph gets, and the WebSocket client subscriptions use."""
