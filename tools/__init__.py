"""The operator's tools, importable: `release_plan` (a reviewer's release plan from a preview)
and `restore_backup` (a release backup back into the stack's database). `scripts/release-plan`
and `scripts/restore-backup` run them in the project's venv."""
