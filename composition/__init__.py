"""The composition root: the one package that wires SIGEC-VE together.

The layers import downwards only (tests/test_layers.py checks it): `sigecve` (the Ray-free
core) < `ml` < `actors` < `serve_deployments` < `composition`. Everything that needs all of
them at once lives here: the Serve applications (`applications`), the running system
(`system`, behind `sigecve up`) and the `sigecve` command (`cli`, one module per command in
`commands/`).
"""
