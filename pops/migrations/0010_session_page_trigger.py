"""A page visit rides on the session's touch: one UPDATE of patient_session counts the visit
(pages + 1, last_page), and this trigger writes its session_page row in the same statement.

So a patient page commits once for the session (activity and visit), not three times.
"""
from peewee import *

SQLITE_TRIGGER = """
CREATE TRIGGER patient_session_visit AFTER UPDATE OF pages ON patient_session
FOR EACH ROW WHEN NEW.pages > OLD.pages
BEGIN
    INSERT INTO session_page (session_id, path, at) VALUES (NEW.id, NEW.last_page, NEW.last_seen_at);
END
"""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION patient_session_visit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_page (session_id, path, at) VALUES (NEW.id, NEW.last_page, NEW.last_seen_at);
    RETURN NULL;
END
$$
"""

POSTGRES_TRIGGER = """
CREATE TRIGGER patient_session_visit AFTER UPDATE OF pages ON patient_session
FOR EACH ROW WHEN (NEW.pages > OLD.pages) EXECUTE FUNCTION patient_session_visit()
"""


def _postgres(db) -> bool:
    return isinstance(db, PostgresqlDatabase)


def up(migrator, db):
    migrator.migrate(migrator.add_column('patient_session', 'last_page', CharField(max_length=300, default='')))
    if _postgres(db):
        db.execute_sql(POSTGRES_FUNCTION)
        db.execute_sql(POSTGRES_TRIGGER)
    else:
        db.execute_sql(SQLITE_TRIGGER)


def down(migrator, db):
    db.execute_sql('DROP TRIGGER IF EXISTS patient_session_visit' + (' ON patient_session' if _postgres(db) else ''))
    if _postgres(db):
        db.execute_sql('DROP FUNCTION IF EXISTS patient_session_visit()')
    migrator.migrate(migrator.drop_column('patient_session', 'last_page'))
