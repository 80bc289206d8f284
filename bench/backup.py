#!/usr/bin/env python3
"""The release's backup (components/scripts/backup.sh, exactly as the chain runs it) of a
database of N rows, and its restore (restore.sh): time and size, on this machine's engine.

    . /var/cache/laravel-stack/toolchain/env.sh && venv/bin/python bench/backup.py [--rows 100000]

Starts its own MariaDB container (the local stack's image), network and volume (prefix
`lsbenchbk`), fills one table like the example app's `visits` (plus a 200-byte text column), runs
the backup and the restore three times each, prints the figures, and removes all it made. A
script that prints figures; no test asserts timings.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

from components import commands

REPO = Path(__file__).resolve().parents[1]
NAME = "lsbenchbk"
IMAGE = "127.0.0.1:5000/laravel-stack/mariadb:10.11"
BUILD = "bench/app@sha256:" + "0" * 64
ENGINE = commands.Engine("unix:///var/run/docker.sock")


def sh(*argv: str, **kw: object) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout  # type: ignore[call-overload]


def sql(query: str) -> str:
    login = 'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B -e "$1" laravel'
    return sh("docker", "exec", f"{NAME}-mysql", "sh", "-c", login, "sql", query).strip()


def cleanup() -> None:
    subprocess.run(["docker", "rm", "-f", f"{NAME}-mysql"], capture_output=True)
    subprocess.run(["docker", "volume", "rm", "-f", f"{NAME}-backups"], capture_output=True)
    subprocess.run(["docker", "network", "rm", f"{NAME}-net"], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cleanup()
    try:
        sh("docker", "network", "create", f"{NAME}-net")
        sh("docker", "volume", "create", f"{NAME}-backups")
        sh("docker", "run", "-d", "--name", f"{NAME}-mysql", "--network", f"{NAME}-net",
           "-e", "MYSQL_ROOT_PASSWORD=bench-root", "-e", "MYSQL_DATABASE=laravel",
           "-e", "MYSQL_USER=laravel", "-e", "MYSQL_PASSWORD=bench-pw", IMAGE)  # fmt: skip
        for _ in range(60):
            if subprocess.run(["docker", "exec", f"{NAME}-mysql", "mysql", "-uroot",
                               "-pbench-root", "-e", "SELECT 1"],
                              capture_output=True).returncode == 0:  # fmt: skip
                break
            time.sleep(1)
        sql("CREATE TABLE visits (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, "
            "build VARCHAR(255), code VARCHAR(100) NOT NULL, host VARCHAR(100) NOT NULL, "
            "note TEXT, created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL)")  # fmt: skip
        sql(f"INSERT INTO visits (build, code, host, note, created_at, updated_at) "
            f"SELECT '{BUILD}', CONCAT('v', seq % 50), CONCAT('host-', seq % 7), "
            f"REPEAT(MD5(seq), 6), NOW(), NOW() FROM seq_1_to_{args.rows}")  # fmt: skip
        sql("ANALYZE TABLE visits")
        size = sql("SELECT ROUND((data_length + index_length) / 1048576, 1) FROM "
                   "information_schema.tables WHERE table_schema = 'laravel' AND "
                   "table_name = 'visits'")  # fmt: skip
        db = commands.Database(f"{NAME}-mysql", IMAGE, f"{NAME}-net", "laravel",
                               f"{NAME}-backups", "bench/backup")  # fmt: skip
        backup = commands.script(commands.backup(ENGINE, db, BUILD, 5))
        took, name, out = [], "", ""
        for _ in range(args.runs):
            t0 = time.monotonic()
            out = sh("sh", "-c", backup, cwd=REPO)
            took.append(time.monotonic() - t0)
            name = commands.backup_name(out)
            time.sleep(1)  # a new name each time (per second)
        restore = commands.script(commands.restore(ENGINE, db, name))
        back = []
        for _ in range(args.runs):
            t0 = time.monotonic()
            sh("sh", "-c", restore, cwd=REPO)
            back.append(time.monotonic() - t0)
        assert int(sql("SELECT COUNT(*) FROM visits")) == args.rows
        print(f"table: {args.rows} rows, {size} MiB (data + index) in MariaDB 10.11")
        print(f"backup: median {statistics.median(took):.1f} s (min {min(took):.1f}, "
              f"max {max(took):.1f}, {args.runs} runs); {out.strip()}")  # fmt: skip
        print(f"restore: median {statistics.median(back):.1f} s "
              f"(min {min(back):.1f}, max {max(back):.1f}, {args.runs} runs)")  # fmt: skip
    finally:
        cleanup()


if __name__ == "__main__":
    main()
