"""The composition root: the `myshop` command, the dev stack, embedded servers, the committed schema files and
the demo data. It sits above `router/` and `subgraphs/` and may use them; nothing below imports it."""
