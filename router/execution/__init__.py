"""Carrying out a plan: the executor (fetches, entity jumps, merging), the optional entity cache, the shaper
(the client's response from the merged data) and a subscription's event stream."""
