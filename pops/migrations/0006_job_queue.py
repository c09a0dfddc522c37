"""The job queue on PostgreSQL: procrastinate's schema, and one job for each message still unsent.

SQLite has no queue (`pops serve` runs the jobs itself): nothing to do there. The schema is
procrastinate's own, from the pinned version (see pops/jobs/queue.py).
"""
from peewee import PostgresqlDatabase


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    from procrastinate.schema import SchemaManager

    # `pops demo` starts again by dropping POPS's tables: the queue's own schema stays, and is kept.
    if db.execute_sql("SELECT to_regclass('procrastinate_jobs') IS NULL").fetchone()[0]:
        db.cursor().execute(SchemaManager.get_schema())  # no parameters: its % signs are its own
    db.execute_sql("""
        SELECT procrastinate_defer_jobs_v1(ARRAY(
            SELECT ROW('pops', 'pops.deliver_message', 0, 'outbox:' || id, NULL,
                       jsonb_build_object('message_id', id), NULL)::procrastinate_job_to_defer_v1
              FROM outbox_message WHERE status = 'outbox' ORDER BY id))
    """)
