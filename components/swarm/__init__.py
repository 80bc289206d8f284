"""The Swarm runtime (swarm.enabled): the app as Swarm services across the nodes. `stack.py`
composes it; what the one-engine runtime shares lives in `components/core/`."""
