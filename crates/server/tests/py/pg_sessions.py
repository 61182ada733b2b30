"""psycopg 3 and psycopg2 in their default (non-autocommit) mode, as a notebook uses them: every
statement runs inside the BEGIN the driver sends; commit and rollback; SET/SHOW/RESET of the
parameters drivers and tools set; several statements in one query; writes inside a transaction
block (CREATE TABLE, INSERT, ALTER ... RENAME, DROP, TRUNCATE) are taken back by ROLLBACK, by
ROLLBACK TO a savepoint and by a session that ends without COMMIT, and kept by COMMIT; temporary
tables end with their session; three-part names. Usage: pg_sessions.py HOST PORT USER PASSWORD"""
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
except psycopg.Error as e:
    check(True, f"another database's relation is not found ({type(e).__name__})")
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
