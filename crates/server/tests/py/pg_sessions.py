"""psycopg 3 and psycopg2 in their default (non-autocommit) mode, as a notebook uses them: every
statement runs inside the BEGIN the driver sends; commit and rollback; SET/SHOW/RESET of the
parameters drivers and tools set; several statements in one query; a write inside a transaction
block is refused (tarn's transactions only read) and leaves nothing behind, while autocommit
writes. Usage: pg_sessions.py HOST PORT USER PASSWORD"""
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

# a write inside a transaction block: refused, and the transaction must be rolled back
try:
    cur.execute("CREATE EXTERNAL TABLE in_tx (a int) LOCATION 's3://pgsess/in_tx/'")
    check(False, "a write inside a transaction is refused")
except psycopg.errors.ReadOnlySqlTransaction as e:
    check("read-only transaction" in str(e), f"a write inside a transaction: 25006 ({e})")
try:
    cur.execute("SELECT 1")
    check(False, "after an error the transaction is aborted")
except psycopg.errors.InFailedSqlTransaction:
    check(True, "after an error: 25P02 until the end of the transaction")
conn.rollback()
cur.execute("SELECT 1")
check(cur.fetchone() == (1,), "ROLLBACK ends the failed transaction")
conn.rollback()

# autocommit: writes run
conn.autocommit = True
cur.execute("CREATE EXTERNAL TABLE auto_t (a int) LOCATION 's3://pgsess/auto_t/'")
cur.execute("SELECT count(*) FROM auto_t")
check(cur.fetchone() == (0,), "in autocommit mode a write runs")
cur.execute("DROP TABLE auto_t")
check(True, "and so does a DROP")

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
c2.close()
finish("pg sessions")
