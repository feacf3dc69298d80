"""The domain subgraphs; each package has the same rooms (see STYLE.md)."""
