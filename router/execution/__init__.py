"""Carrying out a plan: the executor (fetches, entity jumps, merging), the optional entity cache, the shaper
(the client's response from the merged data) and a subscription's event stream."""

from router.execution.compiled import install_finder

# Before any hot module is imported: which of the extension and the .py each one runs (compiled.py).
install_finder()
