"""The swarm runtime's concerns (swarm.enabled): the app as Swarm services across the nodes.

`components/swarm_stack.py` composes them; what both runtimes share (config, image, command
builders, the probe, the scripts) stays in `components/`.
"""
