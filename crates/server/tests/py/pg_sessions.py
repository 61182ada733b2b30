"""psycopg 3 and psycopg2 in their default (non-autocommit) mode, as a notebook uses them: every
statement runs inside the BEGIN the driver sends; commit and rollback; SET/SHOW/RESET of the
parameters drivers and tools set; several statements in one query; writes inside a transaction
block (CREATE TABLE, INSERT, ALTER ... RENAME, DROP, TRUNCATE) are taken back by ROLLBACK, by
ROLLBACK TO a savepoint and by a session that ends without COMMIT, and kept by COMMIT; temporary
tables end with their session; three-part names. Usage: pg_sessions.py HOST PORT USER PASSWORD"""
import datetime
import decimal
import sys

import psycopg
import psycopg2

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def finish(name):
    print(f"{name}: {len(failures)} failures")
    sys.exit(1 if failures else 0)


host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
dsn = f"host={host} port={port} user={user} password={password} dbname=default sslmode=disable"

# --- psycopg 3, default mode ---
conn = psycopg.connect(dsn)
check(conn.autocommit is False, "psycopg 3 starts in its default transaction mode")
cur = conn.cursor()
cur.execute("SELECT 1 + 1 AS two")
check(cur.fetchone() == (2,), "a query runs inside the driver's BEGIN")
check(conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS, "the session is in a transaction")
cur.execute("SELECT %s::int * 3", (7,))
check(cur.fetchone() == (21,), "a parameterized query in the same transaction")
conn.commit()
check(conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE, "COMMIT ends it")
cur.execute("SET application_name = 'notebook'")
cur.execute("SHOW application_name")
check(cur.fetchone() == ("notebook",), "SET then SHOW application_name")
cur.execute("SET search_path TO public")
cur.execute("SHOW search_path")
check(cur.fetchone() == ("public",), "SHOW search_path")
cur.execute("RESET search_path")
cur.execute("SHOW search_path")
check(cur.fetchone() == ('"$user", public',), "RESET restores the default")
cur.execute("SELECT pg_catalog.version(), current_database(), current_schema()")
v, db, schema = cur.fetchone()
check(v.startswith("PostgreSQL 14.0") and db == "default" and schema == "default",
      f"version(), current_database(), current_schema() as clients read them: {v!r} {db} {schema}")
cur.execute("SHOW standard_conforming_strings")
check(cur.fetchone() == ("on",), "SHOW a server parameter")
try:
    cur.execute("SHOW no_such_parameter")
    check(False, "an unknown parameter is an error")
except psycopg.errors.UndefinedObject as e:
    check("unrecognized configuration parameter" in str(e), f"SHOW of an unknown parameter: 42704 ({e})")
conn.rollback()

# writes inside a transaction block run as they are sent; ROLLBACK takes them back
cur.execute("CREATE EXTERNAL TABLE kept (a int) STORED AS PARQUET LOCATION 's3://pgsess/kept/'")
cur.execute("INSERT INTO kept VALUES (1), (2)")
conn.commit()
cur.execute("CREATE TABLE made_in_tx (a int, b text)")
cur.execute("INSERT INTO made_in_tx VALUES (1, 'x')")
cur.execute("INSERT INTO kept VALUES (3)")
cur.execute("ALTER TABLE kept RENAME TO kept_renamed")
cur.execute("SELECT count(*) FROM kept_renamed")
check(cur.fetchone() == (3,), "a block reads its own writes (an INSERT, a rename)")
conn.rollback()
cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('made_in_tx', 'kept_renamed')")
check(cur.fetchone() == (0,), "ROLLBACK drops the table the block made and undoes the rename")
cur.execute("SELECT a FROM kept ORDER BY a")
check(cur.fetchall() == [(1,), (2,)], "ROLLBACK takes back the block's INSERT into an existing table")
conn.rollback()

cur.execute("CREATE TABLE made_in_tx (a int)")
cur.execute("INSERT INTO made_in_tx VALUES (7)")
cur.execute("DROP TABLE kept")
conn.commit()
cur.execute("SELECT a FROM made_in_tx")
check(cur.fetchall() == [(7,)], "COMMIT keeps the block's writes")
cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'kept'")
check(cur.fetchone() == (0,), "and its DROP")
conn.commit()

# a savepoint: ROLLBACK TO takes back only what came after it
with conn.transaction():
    cur.execute("INSERT INTO made_in_tx VALUES (8)")
    try:
        with conn.transaction():
            cur.execute("INSERT INTO made_in_tx VALUES (9)")
            cur.execute("SELECT * FROM no_such_table")
    except psycopg.errors.UndefinedTable:
        pass
cur.execute("SELECT a FROM made_in_tx ORDER BY a")
check(cur.fetchall() == [(7,), (8,)], "ROLLBACK TO a savepoint undoes the INSERT after it and keeps the one before")
conn.commit()

# what a block cannot take back is refused there
try:
    cur.execute("DROP SCHEMA IF EXISTS nothing_here")
    check(False, "DROP SCHEMA inside a transaction block is refused")
except psycopg.errors.ActiveSqlTransaction as e:
    check("cannot run inside a transaction block" in str(e), f"DROP SCHEMA inside a block: 25001 ({e})")
try:
    cur.execute("SELECT 1")
    check(False, "after an error the transaction is aborted")
except psycopg.errors.InFailedSqlTransaction:
    check(True, "after an error: 25P02 until the end of the transaction")
conn.rollback()
cur.execute("SELECT 1")
check(cur.fetchone() == (1,), "ROLLBACK ends the failed transaction")
conn.rollback()

def gone(table):
    """Whether `table` is gone within a few seconds (a closed session ends after its socket)."""
    import time
    for _ in range(50):
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = %s", (table,))
        n = cur.fetchone()[0]
        conn.rollback()
        if n == 0:
            return True
        time.sleep(0.1)
    return False


# a session that ends inside a block rolls it back
c3 = psycopg.connect(dsn)
c3.execute("CREATE TABLE abandoned (a int)")
c3.close()
check(gone("abandoned"), "a session closed inside a block leaves nothing of it")

# a temporary table lives as long as its session
c4 = psycopg.connect(dsn, autocommit=True)
c4.execute("CREATE TEMPORARY TABLE scratch AS SELECT 1 AS a")
check(c4.execute("SELECT a FROM scratch").fetchall() == [(1,)], "a temporary table is readable in its session")
c4.close()
check(gone("scratch"), "a temporary table is dropped when its session ends")

# TRUNCATE empties a table tarn manages
cur.execute("TRUNCATE made_in_tx")
cur.execute("SELECT count(*) FROM made_in_tx")
check(cur.fetchone() == (0,), "TRUNCATE in a block empties the table")
conn.rollback()
cur.execute("SELECT count(*) FROM made_in_tx")
check(cur.fetchone() == (2,), "and its ROLLBACK brings the rows back")
conn.rollback()

# three-part names start with the connection's database
cur.execute('SELECT count(*) FROM "default"."default".made_in_tx')
check(cur.fetchone() == (2,), "a three-part name with the connection's database")
try:
    cur.execute("SELECT * FROM other_db.x.y")
    check(False, "another database is refused")
except psycopg.errors.UndefinedTable as e:
    check("other_db" in str(e), f"another database's relation is not found: 42P01 ({e})")
conn.rollback()
try:
    cur.execute("DROP TABLE other_db.x.y")
    check(False, "another database in DDL is refused")
except psycopg.errors.FeatureNotSupported as e:
    check("cross-database references are not implemented" in str(e), f"cross-database DDL: 0A000 ({e})")
conn.rollback()

# autocommit: writes run
conn.autocommit = True
cur.execute("CREATE EXTERNAL TABLE auto_t (a int) LOCATION 's3://pgsess/auto_t/'")
cur.execute("SELECT count(*) FROM auto_t")
check(cur.fetchone() == (0,), "in autocommit mode a write runs")
cur.execute("DROP TABLE auto_t")
cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'auto_t'")
check(cur.fetchone() == (0,), "and so does a DROP")

# statement_timeout is enforced: the statement stops, the session goes on
cur.execute("SET statement_timeout = 50")
try:
    cur.execute("SELECT count(*) FROM generate_series(1, 2000000000)")
    check(False, "a statement past statement_timeout is canceled")
except psycopg.errors.QueryCanceled as e:
    check("statement timeout" in str(e), f"a statement past statement_timeout: 57014 ({e})")
cur.execute("SET statement_timeout TO '5s'")
cur.execute("SELECT count(*) FROM generate_series(1, 1000)")
check(cur.fetchone() == (1000,), "a statement within the timeout runs")
cur.execute("RESET statement_timeout")

# several statements in one simple query
with psycopg.ClientCursor(conn) as cc:
    cc.execute("SET application_name TO 'multi'; SELECT 41 + 1")
    check(cc.statusmessage == "SET", "several statements in one query: the first one's result")
    check(cc.nextset() and cc.fetchone() == (42,), "... then the next one's rows")
conn.close()

# --- psycopg2, default mode ---
c2 = psycopg2.connect(dsn)
k2 = c2.cursor()
k2.execute("SELECT 'x' || 'y'")
check(k2.fetchone() == ("xy",), "psycopg2 in its default mode")
check(c2.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INTRANS, "psycopg2 opened a transaction")
c2.commit()
k2.execute("SHOW TimeZone")
check(k2.fetchone() == ("UTC",), "psycopg2 SHOW TimeZone")
c2.rollback()

# psycopg2: a write rolled back, one committed, native values, a cancelled query
k2.execute("CREATE TABLE p2 (a int, b varchar(8))")
k2.execute("INSERT INTO p2 VALUES (%s, %s)", (1, "one"))
check(k2.rowcount == 1, f"psycopg2's rowcount of an INSERT ({k2.rowcount})")
c2.rollback()
k2.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'p2'")
check(k2.fetchone() == (0,), "psycopg2: rollback takes back a table and its rows")
c2.rollback()
k2.execute("CREATE TABLE p2 (a int, b varchar(8))")
k2.execute("INSERT INTO p2 VALUES (%s, %s), (%s, %s)", (1, "one", 2, "two"))
c2.commit()
k2.execute("SELECT a, b FROM p2 ORDER BY a")
check(k2.fetchall() == [(1, "one"), (2, "two")], "psycopg2: commit keeps them")
k2.execute("SELECT CAST(1 AS smallint), CAST(9000000000 AS bigint), CAST(1.5 AS real), CAST(2.25 AS double precision), "
           "CAST(12.34 AS numeric(6,2)), DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', true, 'text'")
import datetime as _dt
from decimal import Decimal as _D
check(k2.fetchone() == (1, 9000000000, 1.5, 2.25, _D("12.34"), _dt.date(2024, 1, 2), _dt.datetime(2024, 1, 2, 3, 4, 5),
                        True, "text"), "psycopg2: native values of each scalar type")
k2.execute("SELECT INTERVAL '1 day 2 hours 3.5 seconds', INTERVAL '-1 day 1 hour'")
check(k2.fetchone() == (_dt.timedelta(days=1, hours=2, seconds=3.5), _dt.timedelta(days=-1, hours=1)),
      "psycopg2: intervals as timedelta")
c2.rollback()
import threading as _th
import time as _time
timer = _th.Timer(0.5, c2.cancel)
timer.start()
started = _time.monotonic()
try:
    k2.execute("SELECT count(*) FROM generate_series(1, 5000000000)")
    check(False, "psycopg2: the long query is cancelled")
except psycopg2.errors.QueryCanceled:
    check(_time.monotonic() - started < 20, "psycopg2: cancel() stops the running query (57014)")
c2.rollback()
k2.execute("SELECT 42")
check(k2.fetchone() == (42,), "psycopg2: the session goes on after a cancel")
c2.rollback()
k2.execute("DROP TABLE p2")
c2.commit()
c2.close()

# psycopg 3: server-side prepared statements (prepare=True, and past prepare_threshold)
with psycopg.connect(dsn, autocommit=True) as c5:
    got = [c5.execute("SELECT %s::int * 2, %s::text", (i, f"v{i}"), prepare=True).fetchone() for i in range(3)]
    check(got == [(0, "v0"), (2, "v1"), (4, "v2")], f"psycopg 3 prepared statements: {got}")
    got = [c5.execute("SELECT %s::bigint + 1", (i,)).fetchone()[0] for i in range(8)]
    check(got == list(range(1, 9)), "past prepare_threshold the driver prepares it on the server; values stay right")
    # INSERT with parameters bound on the server (psycopg 3 sends $1, $2), one and many rows
    c5.execute("CREATE TABLE p3 (a int, b text, c numeric(6,2), d date)")
    c5.execute("INSERT INTO p3 VALUES (%s, %s, %s, %s)", (1, "one", decimal.Decimal("1.50"), datetime.date(2024, 1, 2)))
    c5.cursor().executemany("INSERT INTO p3 (a, b) VALUES (%s, %s)", [(2, "two"), (3, "three")])
    got = c5.execute("SELECT a, b, c, d FROM p3 ORDER BY a").fetchall()
    check(got == [(1, "one", decimal.Decimal("1.50"), datetime.date(2024, 1, 2)), (2, "two", None, None),
                  (3, "three", None, None)], f"psycopg 3: INSERT with server-bound parameters, and executemany: {got}")
    c5.execute("DROP TABLE p3")
    row = c5.cursor(binary=True).execute(
        "SELECT CAST(1 AS smallint), CAST(9000000000 AS bigint), CAST(1.5 AS real), 'text', CAST('ab' AS bytea)").fetchone()
    check(row == (1, 9000000000, 1.5, "text", b"ab"), f"psycopg 3 binary: smallint, bigint, real, text, bytea: {row}")
    # arrays, structs and maps arrive as JSON (oid 114), which the driver decodes to lists and dicts
    for binary in (False, True):
        row = c5.cursor(binary=binary).execute(
            "SELECT make_array(1, 2, 3), named_struct('x', 1, 'y', 'b'), map(['k'], [7]), "
            "make_array(make_array('a'), make_array()), CAST(NULL AS INT[])").fetchone()
        check(row == ([1, 2, 3], {"x": 1, "y": "b"}, {"k": 7}, [["a"], []], None),
              f"psycopg 3 {'binary' if binary else 'text'}: arrays, structs and maps as JSON: {row}")
    # timestamps with a zone: aware datetimes, in text and binary
    for binary in (False, True):
        got = c5.cursor(binary=binary).execute("SELECT CAST('2024-01-02 03:04:05+02' AS TIMESTAMP WITH TIME ZONE)").fetchone()[0]
        check(got.tzinfo is not None and got == datetime.datetime(2024, 1, 2, 1, 4, 5, tzinfo=datetime.timezone.utc),
              f"psycopg 3 {'binary' if binary else 'text'}: timestamptz as an aware datetime: {got!r}")
    # intervals: PostgreSQL's interval (oid 1186) in text and binary, which the driver makes timedelta
    for binary in (False, True):
        row = c5.cursor(binary=binary).execute(
            "SELECT INTERVAL '1 day 2 hours 3.5 seconds', INTERVAL '-3 days', "
            "TIMESTAMP '2024-01-03 00:00:00' - TIMESTAMP '2024-01-01 12:00:00', CAST(NULL AS INTERVAL)").fetchone()
        check(row == (datetime.timedelta(days=1, hours=2, seconds=3.5), datetime.timedelta(days=-3),
                      datetime.timedelta(days=1, hours=12), None),
              f"psycopg 3 {'binary' if binary else 'text'}: intervals as timedelta: {row}")
        got = c5.cursor(binary=binary).execute(
            "SELECT CAST(%s AS INTERVAL) + INTERVAL '1 hour'", (datetime.timedelta(minutes=30, microseconds=5),)).fetchone()
        check(got == (datetime.timedelta(hours=1, minutes=30, microseconds=5),),
              f"psycopg 3 {'binary' if binary else 'text'}: a timedelta parameter: {got}")
finish("pg sessions")
