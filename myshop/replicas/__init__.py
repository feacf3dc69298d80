"""Replicas on one machine: every subgraph and the router twice behind HAProxy, over a PostgreSQL and a Redis
of their own (`cluster`), and the chaos run that kills and restarts pieces of it, then checks the
invariants.
"""
