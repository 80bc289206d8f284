"""The release chain: one ordered list of named steps, each a command resource.

Everything up to `health` runs against the NEW app container while the old one still serves;
`switch` moves the traffic; a failure before it leaves users on the old build. Every step after
it re-asserts the switch and the public check before its own work, and when anything in it fails,
switches back: the proxy serves the build it served before, checked through the public entry
point, and `up` fails with the cause and "switched back to <build>".

Your own steps (release.hooks) run at three points of it, each a step of its own. Every step
is triggered by the image digest (and the app container, whose env `config:cache` bakes;
`switch` and `verify` also by the front proxy's container: a recreated one points nowhere),
depends explicitly on the step before it, and fails `pulumi up` with its output when its
command exits non-zero. Each runs through release_step.py: a failure, and the success of the
last step, is recorded in the deploy engine's history and posted to release.notify.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from .. import commands
from ..commands import Argv, Engine
from ..config import HOOK_POINTS, STEP_NAMES, HookConfig, StackConfig
from ..core import files
from ..core.chain import Phase, Step, declare
from ..core.engines import deploy_engine
from ..core.tls import EXPIRY_WARNING_DAYS


@dataclass(frozen=True)
class Target:
    """Where a release runs, as plain values (the Pulumi outputs are resolved first)."""

    cfg: StackConfig
    container: str  # the NEW app container: migrations, caches, OPcache, checks run here
    build: str  # the deployed repo digest
    proxy: str  # the front proxy's container
    direct_url: str  # the new container itself (fcgi:// or http://), before the switch
    public_url: str  # through the front proxy, after the switch
    app_port: int
    public_volume: str
    switched_from: str = ""  # the build the proxy served before the switch (its output)
    stack: str = ""  # project/stack, recorded in each backup and release event
    receipt: str = ""  # the release's receipt (the chain's last step reports it)

    @property
    def host(self) -> Engine:
        return deploy_engine(self.cfg)

    @property
    def user(self) -> str:
        return self.cfg.web_user.name

    @property
    def database(self) -> commands.Database:
        c = self.cfg
        return commands.Database(c.container("mysql"), c.database.image, c.network_name,
                                 c.database.database, c.backups_volume, self.stack)  # fmt: skip


def _ownership(t: Target) -> list[Argv]:
    u = t.cfg.web_user
    root = t.cfg.web.app_root
    return [
        commands.fix_ownership(t.host, t.container, root, u.uid, u.gid),
        *commands.check_writable(t.host, t.container, root, t.user),
    ]


def _probe_args(t: Target, url: str) -> list[str]:
    """health_probe.php's arguments after the build."""
    h = t.cfg.health
    args = commands.probe_args(
        url,
        expected_status=h.expected_status,
        build_field=t.cfg.probe_field,
        build="",
        retries=h.retries,
        interval=h.interval,
        timeout=h.timeout,
        script=f"{t.cfg.web.app_root}/public/index.php",
        cafile=files.APP_CA_ROOTS if t.cfg.web.tls.ca_roots is not None else "",
        warn_days=EXPIRY_WARNING_DAYS,
    )
    return [*args[:3], *args[4:]]


def _probe(t: Target, url: str) -> Argv:
    a = _probe_args(t, url)
    return commands.app_probe(t.host, t.container, t.user, [*a[:3], t.build, *a[3:]])


def _switch(t: Target) -> Argv:
    return commands.proxy_switch(t.host, t.proxy, t.container, t.app_port, t.build)


def _release_switch(t: Target, mode: str) -> Argv:
    new = (t.container, t.app_port, t.build)
    lift = t.cfg.web.app_root if t.cfg.release.maintenance else ""
    probe = _probe_args(t, t.public_url)
    return commands.release_switch(t.host, mode, t.proxy, t.user, new, probe, lift)


STEPS: tuple[Step[Target], ...] = (
    Step(
        "contract",
        "the new image provides what the stack needs (FPM on TCP, clear_env, the build key, …)",
        lambda t: [
            commands.image_contract(
                t.host,
                t.container,
                t.cfg.web.app_root,
                t.cfg.web.fpm_port if t.cfg.web.runtime == "fpm" else None,
                t.user,
                t.cfg.web_user.uid,
                t.cfg.web_user.gid,
            )
        ],
    ),
    Step(
        "ownership",
        "storage/ and bootstrap/cache/ owned and writable by the web user",
        _ownership,
    ),
    Step(
        "backup",
        "dump the app database into the backups volume (a failed or empty dump stops here)",
        lambda t: [commands.backup(t.host, t.database, t.build, t.cfg.release.keep_backups)],
    ),
    Step(
        "maintenance-down",
        # The release's own checks carry the bypass cookie (health_probe.php).
        "`artisan down`: every app container answers the app's 503 page, with Retry-After",
        lambda t: [
            commands.maintenance(
                t.host, t.container, t.user, "down", t.cfg.release.maintenance_retry
            )
        ],
    ),
    Step(
        "migrate",
        # config:clear first: a config cache baked into the image would point the migrations
        # at the build machine's database instead of the container's env.
        "run database migrations with the container's own environment",
        lambda t: [
            commands.artisan(t.host, t.container, t.user, "config:clear"),
            commands.migrate(t.host, t.container, t.user),
        ],
    ),
    Step(
        "cache-clear",
        "clear config, route, view, event and application caches",
        # After migrate (its config:clear): one boot; without it, config:clear goes first.
        lambda t: commands.cache_clear(
            t.host, t.container, t.user, config_cached="migrate" not in t.cfg.steps()
        ),
    ),
    Step(
        "opcache-reset",
        "reset OPcache where the web workers live (FPM reload / octane:reload)",
        lambda t: [commands.opcache_reset(t.host, t.container, t.user, t.cfg.web.runtime)],
    ),
    Step(
        "cache-rebuild",
        "rebuild config, route, view and event caches with the production env",
        lambda t: commands.cache_rebuild(t.host, t.container, t.user),
    ),
    Step(
        "workers-restart",
        "make queue workers restart on the new code",
        lambda t: [commands.queue_restart(t.host, t.container, t.user)],
    ),
    Step(
        "health",
        "the NEW container, reached directly, serves the deployed build (before any traffic)",
        lambda t: [_probe(t, t.direct_url)],
    ),
    Step(
        "switch",
        "point the front proxy at the new container and reload it gracefully",
        lambda t: [_switch(t)],
        # A recreated proxy (its config or image changed) starts pointing nowhere: switched again.
        also_triggered_by=("proxy",),
    ),
    Step(
        "verify",
        "through the public entry point, the deployed build is served",
        # The switch re-asserted (a retried verify checks what it switches), the check through
        # the proxy; when it fails, back to the build that served before (release_switch.sh).
        lambda t: [_release_switch(t, "verify")],
        also_triggered_by=("proxy",),
    ),
    Step(
        "maintenance-up",
        "`artisan up`: the new build answers every request",
        lambda t: [commands.maintenance(t.host, t.container, t.user, "up")],
        past_verify=True,
    ),
    Step(
        "public-prune",
        "remove the public/ of builds other than this one and the one before it",
        lambda t: [
            commands.public_prune(t.host, t.build, t.public_volume, [t.build, t.switched_from])
        ],
        past_verify=True,
    ),
    Step(
        "retention",
        "record the release on the deploy engine, keep its last release.keep builds there",
        # image.digest (a rollback): the engine knows the tag that build was released with.
        lambda t: [
            commands.retention(
                t.host,
                t.cfg.release.keep,
                t.cfg.image.repository,
                t.build,
                "" if t.cfg.image.digest else t.cfg.image.tag,
                t.cfg.database.image,
                t.cfg.backups_volume if t.cfg.backup else "",
                t.cfg.releases_volume,
            )
        ],
        past_verify=True,
    ),
)


#: the chain, whole: one phase against the new app container while the old one serves, then the
#: switch and what follows it (release.hooks go in at their points: chain())
PHASES: tuple[Phase[Target], ...] = (
    Phase(
        "release",
        "the new app container is prepared and proven, then gets the traffic",
        "laravel-stack:index:ReleaseChain",
        STEPS,
    ),
)


#: the steps that run while the site is in maintenance (release.maintenance), before `verify`
#: (whose switch back ends it too): a failure in one of them ends maintenance on the old build
IN_MAINTENANCE = STEP_NAMES[STEP_NAMES.index("maintenance-down") : STEP_NAMES.index("verify")]


#: where each hook point's steps go: before the built-in step at this index of STEP_NAMES
HOOK_SLOTS = {
    "after_ownership": STEP_NAMES.index("ownership") + 1,
    "before_switch": STEP_NAMES.index("switch"),
    "after_verify": STEP_NAMES.index("maintenance-up") + 1,
}
HOOK_WHEN = {
    "after_ownership": "before the backup and `migrate`",
    "before_switch": "the new build checked, traffic still on the old one",
    "after_verify": "traffic on the new build",
}


def hook_prefix(point: str) -> str:
    """What the names of a hook point's steps start with: hook-<point>-<name>."""
    return f"hook-{point.replace('_', '-')}-"


def hook_step(point: str, hook: HookConfig) -> Step[Target]:
    who = f"as root: {hook.reason}" if hook.as_root else "as the web user"
    return Step(
        hook_prefix(point) + hook.name,
        f"your hook `{shlex.join(hook.argv)}` ({HOOK_WHEN[point]}; {who}; "
        f"at most {hook.timeout} s)",
        lambda t: [commands.hook(t.host, t.container, t.user, t.cfg.web.app_root, hook)],
        past_verify=point == "after_verify",
    )


def chain(cfg: StackConfig) -> list[Step[Target]]:
    """The steps that run, in order: the built-in ones the config keeps, the hooks in place."""
    wanted = set(cfg.steps())
    out: list[Step[Target]] = []
    for i, step in enumerate((*STEPS, None)):
        for point in HOOK_POINTS:
            if HOOK_SLOTS[point] == i:
                out += [hook_step(point, h) for h in getattr(cfg.release.hooks, point)]
        if step is not None and step.name in wanted:
            out.append(step)
    return out


def in_maintenance(step: Step[Target]) -> bool:
    return step.name in IN_MAINTENANCE or step.name.startswith(hook_prefix("before_switch"))


def step_script(step: Step[Target], t: Target) -> str:
    if not step.past_verify:
        line = commands.script(*step.argv(t))
        if t.cfg.release.maintenance and in_maintenance(step):
            root = t.cfg.web.app_root
            return commands.or_lift(
                line, commands.maintenance_lift(t.host, t.container, t.user, root)
            )
        return line
    # After verify: only while the proxy serves this build (a retried step never finishes on
    # another one: Pulumi deletes the old container once the chain is done); on any failure,
    # back to the build that served before.
    work = commands.script(commands.proxy_serves(t.host, t.proxy, t.build), *step.argv(t))
    return commands.or_else(work, commands.script(_release_switch(t, "back")))


def step_context(step: Step[Target], t: Target, final: bool) -> dict[str, object]:
    """What release_step.py needs to report this step's outcome (no secret in it)."""
    c = t.cfg
    ctx: dict[str, object] = {
        "stack": t.stack,
        "step": step.name,
        "build": t.build,
        "record": commands.release_event(t.host, c.releases_volume, c.database.image, t.proxy),
    }
    if step.past_verify:
        ctx["previous"] = t.switched_from
    if final:
        # The tag only here (the last step's command has it too): a new tag of the same build
        # re-runs nothing else. A failed release names its build by digest.
        ctx["final"] = True
        ctx["receipt"] = t.receipt
        ctx["tag"] = "" if c.image.digest else c.image.tag
    return ctx


def interpreter(step: Step[Target], final: bool, t: Target) -> list[str]:
    return commands.release_interpreter(step_context(step, t, final))


def receipt(verify: str, backup: str) -> str:
    """The release's receipt: the last check's output ("healthy: <url> HTTP 200, build=…"),
    then "; backup: <name>" when the release took one."""
    return "; backup: ".join(filter(None, (verify, commands.backup_name(backup))))


class ReleaseChain(pulumi.ComponentResource):
    steps: list[command.local.Command]
    by_name: dict[str, command.local.Command]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        build: pulumi.Input[str],
        container: pulumi.Output[str],
        container_id: pulumi.Input[str],
        proxy: pulumi.Output[str],
        proxy_id: pulumi.Input[str],
        public_volume: pulumi.Output[str],
        releases_volume: pulumi.Output[str],
        urls: tuple[str, str, int],
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("laravel-stack:index:ReleaseChain", name, None, opts)
        direct_url, public_url, app_port = urls
        target = pulumi.Output.all(container, build, proxy, public_volume).apply(
            lambda a: Target(
                cfg=cfg,
                container=a[0],
                build=a[1],
                proxy=a[2],
                direct_url=direct_url,
                public_url=public_url,
                app_port=app_port,
                public_volume=a[3],
                stack=f"{pulumi.get_project()}/{pulumi.get_stack()}",
            )
        )
        host = deploy_engine(cfg)
        # The webhooks (a secret, on stdin) into the releases volume on the deploy engine, where
        # every step's report finds them: no step's command or output carries a URL.
        notify = {
            "timeout": cfg.release.notify_timeout,
            "webhooks": [{"url": w.url.get_secret_value(), "format": w.format}
                         for w in cfg.release.notify],
        }  # fmt: skip
        self.notify_config = command.local.Command(
            "notify-config",
            create=commands.script(
                commands.notify_config(host, cfg.releases_volume, cfg.database.image)
            ),
            stdin=pulumi.Output.secret(json.dumps(notify, sort_keys=True)),
            triggers=[releases_volume],
            logging=command.local.Logging.NONE,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )
        steps = chain(cfg)
        final = steps[-1].name if steps else ""

        def at(step: Step[Target], done: Mapping[str, command.local.Command]) -> pulumi.Output:
            """The target as this step sees it: after `verify`, with the build the switch
            replaced; the last step, with the release's receipt."""
            t = target
            if step.past_verify and "switch" in done:
                t = pulumi.Output.all(t, done["switch"].stdout).apply(
                    lambda a: dataclasses.replace(a[0], switched_from=commands.switched_from(a[1]))
                )
            if step.name == final:
                t = pulumi.Output.all(t, self._receipt(done)).apply(
                    lambda a: dataclasses.replace(a[0], receipt=a[1])
                )
            return t

        self.by_name = declare(
            self,
            steps,
            lambda step, done: at(step, done).apply(functools.partial(step_script, step)),
            # A new digest or a recreated app container (new env) re-runs the whole chain; a
            # recreated proxy, the switch and its check (also_triggered_by).
            [build, container_id],
            [*after, self.notify_config],
            extra_triggers={"proxy": proxy_id},
            interpreter=lambda step, done: at(step, done).apply(
                functools.partial(interpreter, step, step.name == final)
            ),
        )
        self.steps = list(self.by_name.values())
        self.receipt = self._receipt(self.by_name)
        self.register_outputs({"steps": [s.stdout for s in self.steps]})

    @staticmethod
    def _receipt(done: Mapping[str, command.local.Command]) -> pulumi.Output[str]:
        checks = [done[s] for s in ("verify", "health") if s in done]
        check = checks[0].stdout if checks else pulumi.Output.from_input("")
        backup = done["backup"].stdout if "backup" in done else ""
        return pulumi.Output.all(check, backup).apply(lambda a: receipt(a[0], a[1]))
