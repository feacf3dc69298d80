"""How long idle HTTP connections between our processes stay open.

A client must drop an idle connection before the server closes it: otherwise it may send a request on a
socket the server is closing at that very moment and get a disconnect for a request nobody saw. So our
servers (subgraphs, router) keep idle connections longer than our clients (router fetches, peer calls)
reuse them.
"""

from __future__ import annotations

SERVER_KEEP_ALIVE_SECONDS = 75
CLIENT_KEEP_ALIVE_SECONDS = 30.0
