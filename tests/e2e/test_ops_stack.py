"""Operations: keep N builds, roll back by digest without a build, a backup before every
migration and its restore, recover an interrupted deploy.

Stack `e2e-ops`, prefix `lsops`, port 18084, its own repository
(`127.0.0.1:5001/laravel-stack/ops-app`) so that the builds counted are this stack's only.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from .support.engine import docker_cleanup
from .support.events import EngineEvents
from .support.http import http, wait_for
from .support.load import Load
from .support.pulumi import Pulumi, new_project
from .support.shell import sh, signal_tree

STACK = "e2e-ops"
NAME = "lsops"
PORT = 18084
BASE = f"http://127.0.0.1:{PORT}"
REPO = "127.0.0.1:5001/laravel-stack/ops-app"
OTHER = "lsops-other-app"  # another app's name for one of the builds


def builds_on_engine() -> dict[str, list[str]]:
    """The repository's builds on the engine: image id -> its references."""
    ids = sh("docker", "image", "ls", "--no-trunc", "--format", "{{.ID}}", REPO).stdout.split()
    out = {}
    for image in sorted(set(ids)):
        refs = sh("docker", "image", "inspect", "--format",
                  "{{json .RepoTags}}{{json .RepoDigests}}", image).stdout  # fmt: skip
        out[image] = refs.strip()
    return out


def served() -> tuple[int, object]:
    return http("/up", base=BASE)


def sql(query: str) -> str:
    """A query as MySQL's root, straight in the database container (not through the app)."""
    return sh("docker", "exec", f"{NAME}-mysql", "sh", "-c",
              'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B -e "$1" laravel', "sql",
              query).stdout.strip()  # fmt: skip


def visits() -> tuple[str, str, str]:
    """The visits table as it is: its columns, its rows, and MySQL's checksum of it."""
    columns = sql("SELECT GROUP_CONCAT(column_name ORDER BY ordinal_position) FROM "
                  "information_schema.columns WHERE table_schema = 'laravel' AND "
                  "table_name = 'visits'")  # fmt: skip
    rows = sql("SELECT * FROM visits ORDER BY id")
    return columns, rows, sql("CHECKSUM TABLE visits").split()[-1]


def backups_on_engine() -> list[str]:
    out = sh(
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--volume",
        f"{NAME}-backups:/b:ro",
        "--entrypoint",
        "ls",
        "127.0.0.1:5000/laravel-stack/mariadb:10.11",
        "/b",
    ).stdout
    return sorted(out.split())  # fmt: skip


@pytest.fixture(scope="module")
def ops(tmp_path_factory) -> Iterator[Pulumi]:
    sh("docker", "info")
    docker_cleanup(NAME)
    sh("docker", "image", "rm", "-f", f"{OTHER}:kept", check=False)
    p = new_project(tmp_path_factory, STACK)
    p.set("name", NAME)
    p.set("web.port", str(PORT))
    p.set("image.repository", REPO)
    # two kept (not the default five): the same retention in four releases fewer
    p.set("release.keep", "2")
    p.set("release.keep_backups", "2")
    yield p
    p.run("destroy", "--yes", check=False)
    docker_cleanup(NAME)
    sh("docker", "image", "rm", "-f", f"{OTHER}:kept", check=False)


def release(p: Pulumi, version: str) -> tuple[str, float]:
    p.set("image.build_args.APP_CODE_VERSION", version)
    t0 = time.monotonic()
    p.up()
    return p.outputs()["image"], time.monotonic() - t0


def test_three_releases_leave_exactly_two_builds(ops):
    deployed = []
    for n in range(1, 4):
        # the last one under the load the rollback gets: its time is the rollback's yardstick
        load = Load(rate=20, base=BASE) if n == 3 else None
        with load or contextlib.nullcontext():
            image, took = release(ops, f"v{n}")
        deployed.append(image)
        print(f"release v{n} took {took:.1f}s{' (under 20 req/s)' if load else ''}")
        if load:
            assert set(load.builds) <= set(deployed[-2:]), load.builds
        if n == 1:
            # another app's name for the first build: retention must leave that image alone
            sh("docker", "tag", image, f"{OTHER}:kept")
    assert len(set(deployed)) == 3
    left = builds_on_engine()
    digests = {d.rsplit("@", 1)[1] for d in deployed[-2:]}
    assert len(left) == 2, left
    for refs in left.values():
        assert any(d in refs for d in digests), refs
    # the first build lost this repository's references but is still there under the other name
    other = sh("docker", "image", "inspect", "--format", "{{json .RepoTags}}{{json .RepoDigests}}",
               f"{OTHER}:kept").stdout  # fmt: skip
    assert REPO not in other, other
    releases = ops.outputs()["releases"]
    assert [r["build"] for r in releases] == deployed[::-1][:2]
    assert all(r["tag"] == "local" and r["deployed"].endswith("Z") for r in releases)
    # One backup before each release's migrations, the last release.keep_backups (2) kept, and
    # each release of the history names its own.
    backups = backups_on_engine()
    assert len(backups) == 2, backups
    assert sorted(r["backup"] for r in releases) == backups, releases
    for r in releases:
        assert r["backup"].endswith(f"-{r['digest'].removeprefix('sha256:')[:16]}.sql.gz"), r
    assert ops.outputs()["release"].endswith(f"; backup: {releases[0]['backup']}")


def test_rollback_to_the_previous_build_under_load_without_a_build(ops):
    releases = ops.outputs()["releases"]
    current, previous = releases[0]["build"], releases[1]["build"]
    # README "Roll back": `pulumi config set --path image.digest sha256:… && pulumi up`
    ops.set("image.digest", previous.rsplit("@", 1)[1])
    preview = ops.preview()
    steps = preview.get("steps", [])
    image_ops = {s["op"] for s in steps if "docker:index/image:Image" in s["urn"]}
    # nothing is built or pushed: the Image resource only leaves the stack (a no-op delete)
    assert image_ops == {"delete"}, image_ops
    with Load(rate=20, base=BASE) as load:
        t0 = time.monotonic()
        ops.up()
        took = time.monotonic() - t0
    failures = load.failures(current, previous)
    assert failures == {}, f"failed requests during the rollback: {failures}"
    assert served()[1]["build"] == previous  # type: ignore[index]
    after = ops.outputs()["releases"]
    assert after[0]["build"] == previous and after[1]["build"] == current
    print(f"rollback took {took:.1f}s (under 20 req/s)")


def restore(ops: Pulumi, *args: str) -> subprocess.CompletedProcess[str]:
    """README "Backups and restore": scripts/restore-backup, run in the project."""
    argv = ["bash", "scripts/restore-backup", "--stack", ops.stack, *args]
    return subprocess.run(argv, cwd=ops.project, env=ops.env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_a_migration_that_drops_data_is_undone_by_the_releases_backup(ops):
    ops.rm("image.digest")
    for _ in range(5):
        assert http("/db", base=BASE)[0] == 200  # rows written through the app
    before = visits()
    assert before[0].split(",")[3] == "host" and before[1], before
    previous = served()[1]["build"]  # type: ignore[index]
    ops.set("image.build_args.DROP_VISITS_HOST", "1")
    ops.up()
    dropped = visits()
    assert "host" not in dropped[0].split(","), dropped
    backup = ops.outputs()["releases"][0]["backup"]
    assert backup and f"backup: {backup}" in ops.outputs()["release"]
    # Never without the confirmation flag; a name that is no backup is refused.
    refused = restore(ops, backup)
    assert refused.returncode == 2 and "--yes-overwrite-the-database" in refused.stderr
    confirm = "--yes-overwrite-the-database"
    missing = restore(ops, "20990101T000000Z-0000000000000000.sql.gz", confirm)
    assert missing.returncode == 1 and "no backup" in missing.stderr, missing.stderr
    assert visits() == dropped
    res = restore(ops, backup, confirm)
    assert res.returncode == 0, res.stderr
    assert f"restored {backup}" in res.stdout
    assert visits() == before  # columns, rows and checksum as before the release
    # Then the code (README: restore, then roll back by digest): the build before it.
    dropping = served()[1]["build"]  # type: ignore[index]
    ops.set("image.digest", previous.rsplit("@", 1)[1])
    with Load(rate=20, base=BASE) as load:
        ops.up()
    assert load.failures(dropping, previous) == {}, load.builds
    assert served()[1]["build"] == previous  # type: ignore[index]
    assert visits()[0] == before[0] and http("/db", base=BASE)[0] == 200
    ops.rm("image.digest")
    ops.rm("image.build_args.DROP_VISITS_HOST")


def test_a_release_whose_dump_fails_stops_before_migrate(ops):
    # The app user loses a privilege the dump needs (SHOW VIEW, for a view in its database).
    sql("CREATE VIEW visit_builds AS SELECT id, build FROM visits")
    sql("REVOKE SHOW VIEW ON laravel.* FROM 'laravel'@'%'")
    before, live, kept = visits(), served()[1]["build"], backups_on_engine()  # type: ignore[index]
    ops.set("image.build_args.DROP_VISITS_HOST", "1")  # a migration that would change the schema
    try:
        with Load(rate=20, base=BASE) as load:
            res = ops.up(check=False)
    finally:
        ops.rm("image.build_args.DROP_VISITS_HOST")
        sql("GRANT SHOW VIEW ON laravel.* TO 'laravel'@'%'")
        sql("DROP VIEW visit_builds")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "backup: the dump failed" in out, out[-3000:]
    assert "SHOW VIEW" in out, out[-3000:]
    assert load.failures(live) == {}, load.builds
    assert visits()[0] == before[0]  # migrate never ran
    assert backups_on_engine() == kept  # nothing half-written is left
    assert served()[1]["build"] == live  # type: ignore[index]
    # The privilege back: the next `up` converges (the failed release's container goes).
    ops.up()
    assert served()[1]["build"] == ops.outputs()["image"]  # type: ignore[index]


def proxied_container() -> str:
    """The app container the front proxy passes requests to (its live upstream file)."""
    conf = sh("docker", "exec", f"{NAME}-web", "cat", "/etc/nginx/laravel-stack/upstream.conf")
    [line] = [x for x in conf.stdout.splitlines() if x.startswith("set $app_upstream ")]
    return line.split()[-1].rstrip(";").rsplit(":", 1)[0]


#: where the runner dies: in the chain before the switch, and between the switch and `verify`
KILL_AT = {
    "cache-clear": "route:clear view:clear event:clear cache:clear",
    "switch": "proxy_switch.sh to ",
}


@pytest.mark.parametrize("step, version", [("cache-clear", "v8"), ("switch", "v9")])
def test_an_interrupted_deploy_recovers_with_cancel_and_up(ops, step, version):
    ops.rm("image.digest")
    ops.set("image.build_args.APP_CODE_VERSION", version)
    old = served()[1]["build"]  # type: ignore[index]
    argv = ["pulumi", "up", "--yes", "--skip-preview", *ops.policy, "--stack", ops.stack,
            "--non-interactive"]  # fmt: skip
    with EngineEvents(name=NAME) as recorded, Load(rate=20, base=BASE) as load:
        proc = subprocess.Popen(argv, cwd=ops.project, env=ops.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

        def in_the_chain() -> bool:
            return any(KILL_AT[step] in line for line in recorded.lines)

        try:
            wait_for(in_the_chain, timeout=300, interval=0.2, what=f"the chain's {step}")
        finally:
            # the CI runner dies: the whole process tree (the plugins too), no chance to clean up
            signal_tree(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        apps = sh("docker", "ps", "-q", "--filter", f"label=laravel-stack.stack={NAME}",
                  "--filter", "label=laravel-stack.role=app").stdout.split()  # fmt: skip
        assert len(apps) == 2, "the kill came after the new container, before the old one went"
        # A consistent proxy: it names a running app container, and the site answers with the
        # build of a running app container (the old or the new one).
        running = sh("docker", "ps", "--format", "{{.Names}}").stdout.split()
        assert proxied_container() in running, proxied_container()
        builds = {
            sh("docker", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", a)
            .stdout.split("APP_BUILD=", 1)[1]
            .split()[0]
            for a in apps
        }
        status, body = served()
        assert status == 200 and body["build"] in builds, (body, builds)  # type: ignore[index]
        locked = ops.run("up", "--yes", "--skip-preview", check=False)
        assert locked.returncode != 0 and "locked" in (locked.stdout + locked.stderr).lower()
        ops.run("cancel", "--yes")
        # the step that was running is a pending create in the state: drop it, it runs again
        ops.run("refresh", "--yes", "--clear-pending-creates")
        ops.up()
    new = ops.outputs()["image"]
    assert new != old
    failures = load.failures(old, new)
    assert failures == {}, f"failed requests: {failures}"
    assert served()[1]["build"] == new  # type: ignore[index]
    # one app container, and nothing of the stack outside its state
    state = ops.state()["deployment"]["resources"]
    declared = {
        r["outputs"].get("name") for r in state if r["type"] == "docker:index/container:Container"
    }
    running = set(sh("docker", "ps", "-a", "--filter", f"label=laravel-stack.stack={NAME}",
                     "--format", "{{.Names}}").stdout.split())  # fmt: skip
    assert running == declared, (running, declared)
    apps = [n for n in running if n.startswith(f"{NAME}-app-")]
    assert len(apps) == 1, apps
    volumes = set(sh("docker", "volume", "ls", "--format", "{{.Name}}").stdout.split())
    assert {v for v in volumes if v.startswith(f"{NAME}-")} == {
        f"{NAME}-db-data",
        f"{NAME}-storage",
        f"{NAME}-public",
        f"{NAME}-backups",
        f"{NAME}-releases",
    }
    networks = set(sh("docker", "network", "ls", "--format", "{{.Name}}").stdout.split())
    assert {n for n in networks if n.startswith(f"{NAME}-")} == {f"{NAME}-internal"}
    assert ops.state()["deployment"].get("pending_operations") in (None, [])
