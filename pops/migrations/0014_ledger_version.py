"""The ledger's version per account (pops.models.LedgerVersion): the database moves it on, in the same statement,
whenever a row the account's facts are read from (pops.ledger) is inserted, updated or deleted, so a page may
keep an account's facts read once and know, from the row it reads with the session, whether they still hold.

Each table names its account directly (guarantor_id) or through its encounter or plan. A payment attempt counts
only for its amount (a plan's first payment). Every change writes a fresh random value.
"""
from peewee import *

# table -> how a row names its account; the events that change what pops.ledger reads
WATCHED = {
    "encounter": "guarantor",
    "encounter_line": "encounter",
    "receipt_application": "encounter",
    "statement": "guarantor",
    "receipt": "guarantor",
    "payment_plan": "guarantor",
    "instalment": "plan",
    "plan_notice": "guarantor",
}
ATTEMPT_AMOUNT = ("payment_attempt", "guarantor")  # UPDATE OF amount only
KEY = {"guarantor": "guarantor_id", "encounter": "encounter_id", "plan": "plan_id"}
LOOKUP = {
    "guarantor": "{row}.guarantor_id",
    "encounter": '(SELECT e.guarantor_id FROM encounter AS e WHERE e.id = {row}.encounter_id)',
    "plan": '(SELECT p.guarantor_id FROM payment_plan AS p WHERE p.id = {row}.plan_id)',
}

# --- SQLite: a trigger per table and event ---------------------------------------------------------

SQLITE_TOUCH = """INSERT INTO ledger_version (guarantor_id, version)
    SELECT g, random() FROM (SELECT {lookup} AS g) WHERE g IS NOT NULL{only_if}
    ON CONFLICT (guarantor_id) DO UPDATE SET version = excluded.version;"""


def _sqlite_triggers():
    events = [(table, way, event) for table, way in WATCHED.items() for event in ("INSERT", "UPDATE", "DELETE")]
    events.append((*ATTEMPT_AMOUNT, "UPDATE OF amount"))
    for table, way, event in events:
        name = f"ledger_changed_{table}_{event.split()[0].lower()}"
        if event == "INSERT":
            body = [SQLITE_TOUCH.format(lookup=LOOKUP[way].format(row="NEW"), only_if="")]
        elif event == "DELETE":
            body = [SQLITE_TOUCH.format(lookup=LOOKUP[way].format(row="OLD"), only_if="")]
        else:  # the row's account now, and the one it had if it moved
            key = KEY[way]
            body = [SQLITE_TOUCH.format(lookup=LOOKUP[way].format(row="NEW"), only_if=""),
                    SQLITE_TOUCH.format(lookup=LOOKUP[way].format(row="OLD"),
                                        only_if=f" AND OLD.{key} IS NOT NEW.{key}")]
        yield name, f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN\n" + "\n".join(body) + "\nEND"


# --- PostgreSQL: a function per way of naming the account, a trigger per table ----------------------

POSTGRES_TOUCH = """
CREATE OR REPLACE FUNCTION pops_ledger_touch(gid bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ledger_version (guarantor_id, version)
    SELECT gid, floor(random() * 9.2e18)::bigint WHERE gid IS NOT NULL
    ON CONFLICT (guarantor_id) DO UPDATE SET version = EXCLUDED.version
$$
"""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION pops_ledger_by_{way}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        PERFORM pops_ledger_touch({new});
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.{key} IS DISTINCT FROM NEW.{key}) THEN
        PERFORM pops_ledger_touch({old});
    END IF;
    RETURN NULL;
END
$$
"""


def _postgres_statements():
    yield POSTGRES_TOUCH
    for way, key in KEY.items():
        yield POSTGRES_FUNCTION.format(way=way, key=key, new=LOOKUP[way].format(row="NEW"),
                                       old=LOOKUP[way].format(row="OLD"))
    for table, way in WATCHED.items():
        yield (f"CREATE TRIGGER ledger_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION pops_ledger_by_{way}()")
    table, way = ATTEMPT_AMOUNT
    yield f"CREATE TRIGGER ledger_changed AFTER UPDATE OF amount ON {table} FOR EACH ROW EXECUTE FUNCTION pops_ledger_by_{way}()"


def _postgres(db) -> bool:
    return isinstance(db, PostgresqlDatabase)


def up(migrator, db):
    class LedgerVersion(Model):
        guarantor_id = BigIntegerField(primary_key=True)
        version = BigIntegerField()

        class Meta:
            database = db
            table_name = 'ledger_version'

    db.create_tables([LedgerVersion])
    if _postgres(db):
        for sql in _postgres_statements():
            db.execute_sql(sql)
        db.execute_sql("INSERT INTO ledger_version (guarantor_id, version) "
                       "SELECT id, floor(random() * 9.2e18)::bigint FROM guarantor")
    else:
        for _, sql in _sqlite_triggers():
            db.execute_sql(sql)
        db.execute_sql("INSERT INTO ledger_version (guarantor_id, version) SELECT id, random() FROM guarantor")


def down(migrator, db):
    if _postgres(db):
        for table in [*WATCHED, ATTEMPT_AMOUNT[0]]:
            db.execute_sql(f"DROP TRIGGER IF EXISTS ledger_changed ON {table}")
        for way in KEY:
            db.execute_sql(f"DROP FUNCTION IF EXISTS pops_ledger_by_{way}()")
        db.execute_sql("DROP FUNCTION IF EXISTS pops_ledger_touch(bigint)")
    else:
        for name, _ in _sqlite_triggers():
            db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
    db.execute_sql("DROP TABLE IF EXISTS ledger_version")
