"""laravel-stack: config -> EngineStack (one Docker engine) or SwarmStack (a Swarm) -> outputs."""

import pulumi

from components.config import ConfigError, from_pulumi, swarm_warnings
from components.core import preflight
from components.core.engines import build_engine, deploy_engine
from components.engine.stack import EngineStack
from components.swarm.stack import SwarmStack

try:
    config = from_pulumi()  # validated before any resource is declared
    for engine in filter(None, (deploy_engine(config), build_engine(config))):
        preflight.check(engine)  # an ssh:// server answers as pinned, before any change
except (ConfigError, preflight.PreflightError) as err:
    raise pulumi.RunError(str(err)) from None

for warning in swarm_warnings(config):
    pulumi.log.warn(warning)

# One engine, or a Swarm (swarm.enabled): each runtime composes the concerns it needs.
runtime = SwarmStack if config.swarm.enabled else EngineStack
stack = runtime(pulumi.get_stack(), config)

pulumi.export("web_url", stack.web_url)
pulumi.export("health_url", stack.health_url)
pulumi.export("image", stack.image)
pulumi.export("build_id", stack.build_id)
pulumi.export("network", stack.network)
pulumi.export("containers", stack.containers)
pulumi.export("release", stack.release_receipt)
pulumi.export("releases", stack.releases)
pulumi.export("history", stack.history)
pulumi.export("backups", stack.backups)
