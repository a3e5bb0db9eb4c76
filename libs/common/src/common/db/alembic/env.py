"""The Alembic environment of every service: which one is the `alembic.ini` section it runs
under (`alembic -n auth ...`)."""

from common.db.migrations import run_migrations

run_migrations()
