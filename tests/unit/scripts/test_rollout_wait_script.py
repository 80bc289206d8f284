"""components/scripts/rollout_wait.sh with a fake `docker` on PATH that answers `service inspect`
from a list of states, one per call: the wait ends as Swarm's account of the rollout says."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from components.commands import Engine, FromScript, swarm

SCRIPT = Path(__file__).parents[3] / "components" / "scripts" / "rollout_wait.sh"
NEW = "r@sha256:" + "b" * 64
OLD = "r@sha256:" + "a" * 64


def wait(tmp_path: Path, answers: list[str], timeout: int = 20) -> subprocess.CompletedProcess:
    """answers: what each `docker service inspect` prints (the last one repeats)."""
    (tmp_path / "answers").write_text("\n".join(answers) + "\n")
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        f"n=$(wc -l < {tmp_path}/calls)\n"
        f'line=$(sed -n "${{n}}p" {tmp_path}/answers)\n'
        f'[ -n "$line" ] || line=$(tail -n 1 {tmp_path}/answers)\n'
        'printf "%s\\n" "$line"\n'
    )
    fake.chmod(0o755)
    return subprocess.run(
        ["sh", str(SCRIPT), "shop-app", NEW, str(timeout), "0"],
        capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
    )  # fmt: skip


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_it_waits_while_swarm_updates_and_passes_once_the_update_completed(tmp_path):
    res = wait(tmp_path, [f"{NEW}|updating|update in progress"] * 3
               + [f"{NEW}|completed|update completed"])  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert len(calls(tmp_path)) == 4
    assert calls(tmp_path)[0].startswith("service inspect --format ")
    assert calls(tmp_path)[0].endswith(" shop-app")
    assert f"shop-app runs {NEW} (completed)" in res.stdout


def test_a_created_service_has_no_update_status_and_passes(tmp_path):
    res = wait(tmp_path, [f"{NEW}|"])
    assert res.returncode == 0, res.stderr
    assert "(created)" in res.stdout


def test_a_rollout_swarm_rolled_back_fails_once_the_rollback_is_done_with_swarms_reason(tmp_path):
    why = "update rolled back due to failure or early termination of task x1"
    res = wait(tmp_path, [f"{NEW}|updating|update in progress", f"{OLD}|rollback_started|{why}",
                          f"{OLD}|rollback_completed|rollback completed"])  # fmt: skip
    assert res.returncode == 1
    assert len(calls(tmp_path)) == 3  # it waited for the rollback to be done
    assert f"Swarm rolled shop-app back to {OLD}: rollback completed" in res.stderr


def test_a_paused_update_fails_at_once(tmp_path):
    res = wait(tmp_path, [f"{NEW}|paused|update paused due to failure of task x2"])
    assert res.returncode == 1 and "paused: update paused due to failure" in res.stderr
    assert len(calls(tmp_path)) == 1


def test_a_service_that_runs_another_build_fails(tmp_path):
    res = wait(tmp_path, [f"{OLD}|completed|update completed"])
    assert res.returncode == 1 and f"runs {OLD}, not {NEW}" in res.stderr


def test_it_gives_up_after_the_timeout_naming_the_state(tmp_path):
    res = wait(tmp_path, [f"{NEW}|updating|update in progress"], timeout=1)
    assert res.returncode == 1
    assert "still updating after 1 s" in res.stderr


def test_the_command_runs_the_script_on_the_manager_over_the_pinned_ssh_connection():
    host = Engine("ssh://deploy@10.0.0.5", ("-o", "KnownHostsCommand=x"))
    argv = swarm.rollout_wait(host, "shop-app", NEW, 300, 2)
    assert isinstance(argv, FromScript) and argv.script == "components/scripts/rollout_wait.sh"
    assert argv[:3] == ["ssh", "-o", "KnownHostsCommand=x"]
    assert shlex.split(argv[-1]) == ["sh", "-s", "--", "shop-app", NEW, "300", "2"]
