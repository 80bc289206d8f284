"""The one-engine runtime: every container on one Docker engine (docker.host), blue/green behind
nginx. `stack.py` composes it; what the Swarm runtime shares lives in `components/core/`."""
