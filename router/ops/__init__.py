"""Running the router: its telemetry (spans and GraphQL metrics), the `/metrics` collectors, supergraph hot
reload (which gateway serves, and the leases requests hold on it) and the worker processes."""
