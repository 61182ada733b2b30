/*
 * pgjdbc (the PostgreSQL JDBC driver, as BI tools, DBeaver, Spark and JVM services use it) against
 * tarn's PostgreSQL wire: DatabaseMetaData browses schemas, tables, views and columns through
 * tarn's pg_catalog; each type comes back as its native Java value; prepared statements keep
 * their values once the driver switches to server-side statements and the binary format; a long
 * query is cancelled (Statement.cancel, setQueryTimeout) with 57014 and the connection goes on;
 * transactions commit and roll back, and recover from an error (also to a savepoint, and with
 * pgjdbc's autosave); setDate/setTimestamp from JVMs in and outside UTC. The program makes its
 * tables itself (autocommit) in BUCKET, which must exist. Against PostgreSQL itself (the same
 * tables made by hand in schema "default" of database "default") only the setup fails.
 *
 * Not here yet, as tarn does not answer them like PostgreSQL (docs/architecture.md): getTypeInfo
 * (a correlated subquery in WHERE), getColumns' COLUMN_SIZE of a decimal (pg_attribute.atttypmod), ResultSetMetaData's table name
 * (the RowDescription's table OID), and `CAST(? AS TIMESTAMP)` of a setTimestamp from a JVM
 * outside UTC (the offset is applied, not dropped).
 *
 * Compile: javac -cp /usr/share/java/postgresql.jar -d OUT PgJdbcSuite.java
 * Run:     java -cp OUT:/usr/share/java/postgresql.jar PgJdbcSuite HOST PORT USER PASSWORD BUCKET
 */
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class PgJdbcSuite {
    static int failures = 0;

    static void check(boolean cond, String what) {
        System.out.println((cond ? "ok   " : "FAIL ") + what);
        if (!cond) failures++;
    }

    static void failed(String section, SQLException e) {
        check(false, section + ": " + e.getMessage() + " (SQLState " + e.getSQLState() + ")");
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs one section; an SQLException (or anything else) is one FAIL and the suite goes on. */
    static void section(String name, Body body) {
        System.out.println("--- " + name);
        try {
            body.run();
        } catch (SQLException e) {
            failed(name, e);
        } catch (Exception e) {
            check(false, name + ": " + e);
        }
    }

    static String url, user, password, bucket;

    static Connection connect(String extra) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        return DriverManager.getConnection(url + extra, p);
    }

    /** The rows of a result set, each a list of the named columns' strings. */
    static List<List<String>> rows(ResultSet rs, String... cols) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (String c : cols) row.add(rs.getString(c));
            out.add(row);
        }
        rs.close();
        return out;
    }

    /** Null if the result set holds exactly readings' row `id`, else what is wrong. */
    static String rowIsRight(ResultSet rs, int id, String what) throws SQLException {
        if (!rs.next()) return what + ": no row";
        boolean one = id == 1;
        String got = rs.getInt(1) + "," + rs.getString(2) + "," + rs.getBigDecimal(3) + "," + rs.getDate(4) + ","
                + rs.getTimestamp(5) + "," + rs.getBoolean(6) + "," + rs.getObject(7);
        boolean right = rs.getInt(1) == id && rs.getString(2).equals(one ? "a" : "b")
                && rs.getBigDecimal(3).equals(new BigDecimal(one ? "1.50" : "2.25"))
                && rs.getDate(4).equals(Date.valueOf(one ? "2024-01-02" : "2024-02-03"))
                && rs.getTimestamp(5).equals(Timestamp.valueOf(one ? "2024-01-02 03:04:05" : "2024-02-03 04:05:06"))
                && rs.getBoolean(6) == one
                && (one ? rs.getDouble(7) == 0.5 : rs.getObject(7) == null);
        if (!right) return what + ": " + got;
        if (rs.next()) return what + ": more than one row";
        return null;
    }

    static int count(ResultSet rs) throws SQLException {
        int n = 0;
        while (rs.next()) n++;
        rs.close();
        return n;
    }

    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1];
        user = args[2];
        password = args[3];
        bucket = args[4];
        url = "jdbc:postgresql://" + host + ":" + port + "/default?sslmode=disable";

        // --- setup, in autocommit
        section("setup", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                check(c.getAutoCommit(), "a connection starts in autocommit");
                s.execute("CREATE EXTERNAL TABLE readings (id int, name string, price decimal(10,2), d date, "
                        + "ts timestamp, ok boolean, score double) STORED AS PARQUET LOCATION 's3://" + bucket
                        + "/readings/'");
                int n = s.executeUpdate("INSERT INTO readings VALUES (1, 'a', 1.50, DATE '2024-01-02', "
                        + "TIMESTAMP '2024-01-02 03:04:05', true, 0.5), (2, 'b', 2.25, DATE '2024-02-03', "
                        + "TIMESTAMP '2024-02-03 04:05:06', false, NULL)");
                check(n == 2, "INSERT reports 2 rows (" + n + ")");
                s.execute("CREATE VIEW cheap AS SELECT id, name FROM readings WHERE price < 2");
                check(true, "CREATE EXTERNAL TABLE, INSERT, CREATE VIEW in autocommit");
            }
        });

        // --- 1. connect and DatabaseMetaData
        section("1. DatabaseMetaData", () -> {
            try (Connection c = connect("")) {
                DatabaseMetaData md = c.getMetaData();
                String product = md.getDatabaseProductName(), version = md.getDatabaseProductVersion();
                check("PostgreSQL".equals(product) && version != null && !version.isEmpty(),
                        "getDatabaseProductName/Version: " + product + " " + version);
                check(md.getDatabaseMajorVersion() >= 9, "getDatabaseMajorVersion " + md.getDatabaseMajorVersion());
                check(user.equals(md.getUserName()), "getUserName is the access key (" + md.getUserName() + ")");
                section("1. getSchemas", () -> {
                    List<List<String>> schemas = rows(md.getSchemas(), "TABLE_SCHEM");
                    check(schemas.contains(List.of("default")), "getSchemas lists default: " + schemas);
                });
                section("1. getCatalogs", () -> {
                    List<List<String>> cats = rows(md.getCatalogs(), "TABLE_CAT");
                    check(cats.contains(List.of("default")), "getCatalogs lists the database default: " + cats);
                });
                section("1. getTables", () -> {
                    List<List<String>> tables = rows(md.getTables(null, "default", "%", null),
                            "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
                    check(tables.contains(List.of("default", "readings", "TABLE")),
                            "getTables lists readings as a TABLE: " + tables);
                    check(tables.contains(List.of("default", "cheap", "VIEW")),
                            "getTables lists cheap as a VIEW: " + tables);
                });
                section("1. getColumns", () -> {
                    List<List<String>> cols = rows(md.getColumns(null, "default", "readings", null),
                            "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "ORDINAL_POSITION");
                    List<List<String>> want = List.of(
                            List.of("id", "" + Types.INTEGER, "int4", "1"),
                            List.of("name", "" + Types.VARCHAR, "text", "2"),
                            List.of("price", "" + Types.NUMERIC, "numeric", "3"),
                            List.of("d", "" + Types.DATE, "date", "4"),
                            List.of("ts", "" + Types.TIMESTAMP, "timestamp", "5"),
                            List.of("ok", "" + Types.BIT, "bool", "6"),
                            List.of("score", "" + Types.DOUBLE, "float8", "7"));
                    check(cols.equals(want), "getColumns: 7 columns in order with their types: " + cols);
                });
                section("1. getImportedKeys/getExportedKeys", () -> {
                    // what a BI tool's ER view asks: Glue tables have no foreign keys
                    check(count(md.getImportedKeys(null, "default", "readings")) == 0, "getImportedKeys: none");
                    check(count(md.getExportedKeys(null, "default", "readings")) == 0, "getExportedKeys: none");
                });
                section("1. getPrimaryKeys", () -> {
                    check(count(md.getPrimaryKeys(null, "default", "readings")) == 0, "getPrimaryKeys: none");
                });
            }
        });

        // --- 2. native values
        section("2. values", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT id, name, price, d, ts, ok, score FROM readings ORDER BY id")) {
                check(rs.next(), "first row");
                check(rs.getInt(1) == 1, "getInt " + rs.getInt(1));
                check("a".equals(rs.getString(2)), "getString " + rs.getString(2));
                BigDecimal price = rs.getBigDecimal(3);
                check(new BigDecimal("1.50").equals(price) && price.scale() == 2, "getBigDecimal " + price);
                check(Date.valueOf("2024-01-02").equals(rs.getDate(4)), "getDate " + rs.getDate(4));
                check(Timestamp.valueOf("2024-01-02 03:04:05").equals(rs.getTimestamp(5)), "getTimestamp " + rs.getTimestamp(5));
                check(rs.getBoolean(6), "getBoolean true");
                check(rs.getDouble(7) == 0.5 && !rs.wasNull(), "getDouble " + rs.getDouble(7));
                Object[] objs = new Object[7];
                for (int i = 0; i < 7; i++) objs[i] = rs.getObject(i + 1);
                Class<?>[] want = {Integer.class, String.class, BigDecimal.class, Date.class, Timestamp.class,
                        Boolean.class, Double.class};
                for (int i = 0; i < 7; i++) {
                    check(objs[i] != null && objs[i].getClass() == want[i], "getObject(" + (i + 1) + ") is a "
                            + want[i].getSimpleName() + " (" + (objs[i] == null ? "null" : objs[i].getClass().getName()) + ")");
                }
                check(rs.getObject(5, java.time.LocalDateTime.class).equals(java.time.LocalDateTime.of(2024, 1, 2, 3, 4, 5)),
                        "getObject(ts, LocalDateTime)");
                check(rs.getObject(4, java.time.LocalDate.class).equals(java.time.LocalDate.of(2024, 1, 2)),
                        "getObject(d, LocalDate)");
                check(rs.next(), "second row");
                check(!rs.getBoolean(6), "getBoolean false");
                double score = rs.getDouble(7);
                check(score == 0.0 && rs.wasNull(), "wasNull after getDouble of NULL");
                check(rs.getObject(7) == null, "getObject of NULL is null");
                check(!rs.next(), "two rows");

                ResultSetMetaData m = rs.getMetaData();
                int[] types = {Types.INTEGER, Types.VARCHAR, Types.NUMERIC, Types.DATE, Types.TIMESTAMP, Types.BIT, Types.DOUBLE};
                // the types getColumns gives the table's columns (pg_attribute): the RowDescription's must agree
                String[] names = {"int4", "text", "numeric", "date", "timestamp", "bool", "float8"};
                StringBuilder got = new StringBuilder();
                boolean same = m.getColumnCount() == 7;
                for (int i = 1; i <= m.getColumnCount(); i++) {
                    got.append(m.getColumnName(i)).append(':').append(m.getColumnType(i)).append(':').append(m.getColumnTypeName(i)).append(' ');
                    same &= i <= 7 && m.getColumnType(i) == types[i - 1] && names[i - 1].equals(m.getColumnTypeName(i));
                }
                check(same, "ResultSetMetaData column types are pg_attribute's: " + got.toString().trim());
                section("2. ResultSetMetaData of a table's columns", () -> {
                    // pgjdbc asks pg_catalog about the columns' table (the RowDescription's table OID)
                    check(m.getScale(3) == 2 && m.getPrecision(3) == 10, "getPrecision/getScale of decimal(10,2): "
                            + m.getPrecision(3) + "," + m.getScale(3));
                    check(m.isNullable(1) != ResultSetMetaData.columnNoNulls, "isNullable: " + m.isNullable(1));
                    check(!m.isAutoIncrement(1), "isAutoIncrement false");
                });
            }
        });

        section("2. column labels", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*), 1 + 1, max(id) AS m FROM readings")) {
                ResultSetMetaData m = rs.getMetaData();
                String labels = m.getColumnLabel(1) + "," + m.getColumnLabel(2) + "," + m.getColumnLabel(3);
                check(labels.equals("count,?column?,m"), "column labels as PostgreSQL names them (count,?column?,m): " + labels);
            }
        });

        section("2. intervals", () -> {
            // text (a plain Statement) and binary (a prepared statement past prepareThreshold)
            for (int threshold : new int[] {5, -1}) {
                try (Connection c = connect("&prepareThreshold=" + threshold);
                     PreparedStatement p = c.prepareStatement(
                             "SELECT INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds', INTERVAL '-1 day 1 hour'");
                     ResultSet rs = p.executeQuery()) {
                    check(rs.next(), "an interval row");
                    Object o = rs.getObject(1);
                    check(o instanceof org.postgresql.util.PGInterval, "getObject of an interval is a PGInterval ("
                            + (o == null ? "null" : o.getClass().getName()) + ")");
                    org.postgresql.util.PGInterval i = (org.postgresql.util.PGInterval) o;
                    check(i.getYears() == 1 && i.getMonths() == 2 && i.getDays() == 3 && i.getHours() == 4
                            && i.getMinutes() == 5 && i.getSeconds() == 6.5, "interval fields (threshold " + threshold + "): " + i);
                    org.postgresql.util.PGInterval j = (org.postgresql.util.PGInterval) rs.getObject(2);
                    check(j.getDays() == -1 && j.getHours() == 1, "a mixed-sign interval: " + j);
                    check(rs.getMetaData().getColumnTypeName(1).equals("interval"), "the column type is interval");
                }
            }
        });

        // --- 3. prepared statements: client side, then server side (after prepareThreshold uses),
        // with the binary format the driver switches to for some types once a statement is named
        for (String extra : new String[]{"", "&prepareThreshold=1", "&prepareThreshold=0", "&prepareThreshold=-1"}) {
            String label = extra.isEmpty() ? " (default prepareThreshold=5)" : " (" + extra.substring(1) + ")";
            section("3. setInt, setString" + label, () -> {
                try (Connection c = connect(extra);
                     PreparedStatement ps = c.prepareStatement(
                             "SELECT id, name, price, d, ts, ok, score FROM readings WHERE id = ? AND name = ? ORDER BY id")) {
                    String bad = null;
                    for (int i = 0; i < 8 && bad == null; i++) {
                        int id = 1 + i % 2;
                        ps.setInt(1, id);
                        ps.setString(2, id == 1 ? "a" : "b");
                        try (ResultSet rs = ps.executeQuery()) {
                            bad = rowIsRight(rs, id, "run " + (i + 1));
                        }
                    }
                    check(bad == null, "8 runs with int and string parameters, all types back" + (bad == null ? "" : ": " + bad));
                }
            });
            section("3. setBigDecimal" + label, () -> {
                try (Connection c = connect(extra);
                     PreparedStatement ps = c.prepareStatement(
                             "SELECT id, name, price, d, ts, ok, score FROM readings WHERE id = ? AND name = ? AND price > ? ORDER BY id")) {
                    String bad = null;
                    for (int i = 0; i < 8 && bad == null; i++) {
                        int id = 1 + i % 2;
                        ps.setInt(1, id);
                        ps.setString(2, id == 1 ? "a" : "b");
                        ps.setBigDecimal(3, new BigDecimal("1.00"));
                        try (ResultSet rs = ps.executeQuery()) {
                            bad = rowIsRight(rs, id, "run " + (i + 1));
                        }
                    }
                    check(bad == null, "8 runs with int, string and decimal parameters" + (bad == null ? "" : ": " + bad));
                    try (PreparedStatement p2 = c.prepareStatement("SELECT CAST(? AS numeric(12,3)) * 2")) {
                        p2.setBigDecimal(1, new BigDecimal("-12345.678"));
                        try (ResultSet rs = p2.executeQuery()) {
                            check(rs.next() && new BigDecimal("-24691.356").compareTo(rs.getBigDecimal(1)) == 0,
                                    "a decimal parameter's value survives");
                        }
                    }
                }
            });
            section("3. setBoolean, setLong, setDouble" + label, () -> {
                try (Connection c = connect(extra);
                     PreparedStatement p2 = c.prepareStatement("SELECT count(*) FROM readings WHERE ok = ? AND (score IS NULL) = ? AND id < ? AND price > ?")) {
                    boolean right = true;
                    for (int i = 0; i < 7; i++) {
                        p2.setBoolean(1, false);
                        p2.setBoolean(2, true);
                        p2.setLong(3, 10L);
                        p2.setDouble(4, 0.5);
                        try (ResultSet rs = p2.executeQuery()) {
                            right &= rs.next() && rs.getLong(1) == 1;
                        }
                    }
                    check(right, "7 runs with boolean, bigint, double parameters");
                }
            });
            section("3. parameters in the select list" + label, () -> {
                try (Connection c = connect(extra);
                     PreparedStatement p3 = c.prepareStatement("SELECT ?::int + 1, ? || 'x', ?, ?")) {
                    boolean right = true;
                    for (int i = 0; i < 7; i++) {
                        p3.setInt(1, i);
                        p3.setString(2, "s" + i);
                        p3.setLong(3, 10_000_000_000L + i);
                        p3.setDouble(4, i + 0.25);
                        try (ResultSet rs = p3.executeQuery()) {
                            right &= rs.next() && rs.getInt(1) == i + 1 && rs.getString(2).equals("s" + i + "x")
                                    && rs.getLong(3) == 10_000_000_000L + i && rs.getDouble(4) == i + 0.25;
                        }
                    }
                    check(right, "7 runs of SELECT ?::int + 1, ? || 'x', ? (int8), ? (float8)");
                    try (PreparedStatement p4 = c.prepareStatement("SELECT 1 WHERE ? IS NULL")) {
                        p4.setNull(1, Types.VARCHAR);
                        try (ResultSet rs = p4.executeQuery()) {
                            check(rs.next() && rs.getInt(1) == 1, "a NULL parameter");
                        }
                    }
                }
            });
        }

        // pgjdbc sends setDate/setTimestamp as text with the JVM zone's offset ('2024-01-02 +00',
        // '2024-01-02 03:04:05-05') and an unspecified type; PostgreSQL drops the offset for a
        // date or a timestamp without time zone. A JVM outside UTC is common.
        for (String zone : new String[]{"UTC", "America/New_York", "Asia/Kolkata"}) {
            java.util.TimeZone saved = java.util.TimeZone.getDefault();
            java.util.TimeZone.setDefault(java.util.TimeZone.getTimeZone(zone));
            section("3. setTimestamp, JVM zone " + zone, () -> {
                try (Connection c = connect("");
                     PreparedStatement ps = c.prepareStatement("SELECT id, ts FROM readings WHERE ts = ?")) {
                    String bad = null;
                    for (int i = 0; i < 7 && bad == null; i++) {
                        ps.setTimestamp(1, Timestamp.valueOf("2024-01-02 03:04:05"));
                        try (ResultSet rs = ps.executeQuery()) {
                            if (!rs.next()) bad = "run " + (i + 1) + ": no row";
                            else if (rs.getInt(1) != 1 || !rs.getTimestamp(2).equals(Timestamp.valueOf("2024-01-02 03:04:05")))
                                bad = "run " + (i + 1) + ": " + rs.getInt(1) + "," + rs.getTimestamp(2);
                        }
                    }
                    check(bad == null, "WHERE ts = ? (setTimestamp) finds row 1, 7 runs" + (bad == null ? "" : ": " + bad));
                }
            });
            section("3. setDate, JVM zone " + zone, () -> {
                try (Connection c = connect("");
                     PreparedStatement ps = c.prepareStatement("SELECT id, d FROM readings WHERE d = ?")) {
                    String bad = null;
                    for (int i = 0; i < 7 && bad == null; i++) {
                        ps.setDate(1, Date.valueOf("2024-01-02"));
                        try (ResultSet rs = ps.executeQuery()) {
                            if (!rs.next()) bad = "run " + (i + 1) + ": no row";
                            else if (rs.getInt(1) != 1 || !rs.getDate(2).equals(Date.valueOf("2024-01-02")))
                                bad = "run " + (i + 1) + ": " + rs.getInt(1) + "," + rs.getDate(2);
                        }
                    }
                    check(bad == null, "WHERE d = ? (setDate) finds row 1, 7 runs" + (bad == null ? "" : ": " + bad));
                }
            });
            java.util.TimeZone.setDefault(saved);
        }

        // --- 4. cancel a long query
        String longQuery = "SELECT count(*) FROM generate_series(1, 20000000000)";
        section("4. Statement.cancel", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                Thread t = new Thread(() -> {
                    try {
                        Thread.sleep(1000);
                        s.cancel();
                    } catch (Exception e) {
                        System.out.println("     cancel thread: " + e);
                    }
                });
                long started = System.nanoTime();
                t.start();
                try {
                    s.executeQuery(longQuery).close();
                    check(false, "the long query is cancelled");
                } catch (SQLException e) {
                    double took = (System.nanoTime() - started) / 1e9;
                    check("57014".equals(e.getSQLState()) && took < 20,
                            String.format("cancelled after %.1fs: %s (SQLState %s)", took, e.getMessage(), e.getSQLState()));
                }
                t.join();
                try (ResultSet rs = s.executeQuery("SELECT 40 + 2")) {
                    check(rs.next() && rs.getInt(1) == 42, "the connection goes on after a cancel");
                }
            }
        });
        section("4. setQueryTimeout", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                s.setQueryTimeout(1);
                long started = System.nanoTime();
                try {
                    s.executeQuery(longQuery).close();
                    check(false, "the long query times out");
                } catch (SQLException e) {
                    double took = (System.nanoTime() - started) / 1e9;
                    check("57014".equals(e.getSQLState()) && took < 20,
                            String.format("timed out after %.1fs: %s (SQLState %s)", took, e.getMessage(), e.getSQLState()));
                }
                s.setQueryTimeout(0);
                try (ResultSet rs = s.executeQuery("SELECT 40 + 2")) {
                    check(rs.next() && rs.getInt(1) == 42, "the connection goes on after a timeout");
                }
            }
        });
        section("4. cancel a prepared statement in a transaction", () -> {
            try (Connection c = connect("")) {
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM generate_series(1, 20000000000) WHERE value > ?")) {
                    ps.setLong(1, -1L);
                    ps.setQueryTimeout(1);
                    try {
                        ps.executeQuery().close();
                        check(false, "the long prepared query times out");
                    } catch (SQLException e) {
                        check("57014".equals(e.getSQLState()), "a prepared query in a transaction times out: "
                                + e.getMessage() + " (SQLState " + e.getSQLState() + ")");
                    }
                }
                c.rollback();
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
                    check(rs.next() && rs.getInt(1) == 1, "after rollback the connection goes on");
                }
                c.commit();
            }
        });

        // --- 5. transactions
        section("5. commit and rollback", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM readings")) {
                    check(rs.next() && rs.getLong(1) == 2, "a SELECT in a transaction");
                }
                try (ResultSet rs = s.executeQuery("SELECT name FROM cheap")) {
                    check(rs.next() && "a".equals(rs.getString(1)) && !rs.next(), "a second SELECT (of a view)");
                }
                c.commit();
                try (ResultSet rs = s.executeQuery("SELECT max(id) FROM readings")) {
                    check(rs.next() && rs.getInt(1) == 2, "a SELECT in the next transaction");
                }
                c.rollback();
                try (ResultSet rs = s.executeQuery("SELECT 1")) {
                    check(rs.next() && rs.getInt(1) == 1, "a SELECT after rollback");
                }
                c.commit();
                c.setAutoCommit(true);
                try (ResultSet rs = s.executeQuery("SELECT 1")) {
                    check(rs.next() && rs.getInt(1) == 1, "back in autocommit");
                }
            }
        });
        section("5. a failed statement, then rollback", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                try (ResultSet rs = s.executeQuery("SELECT 1")) {
                    check(rs.next(), "a SELECT opens the transaction");
                }
                try {
                    s.executeQuery("SELECT * FROM no_such_table").close();
                    check(false, "a query of a missing table fails");
                } catch (SQLException e) {
                    check("42P01".equals(e.getSQLState()), "a missing table: " + e.getMessage() + " (SQLState " + e.getSQLState() + ")");
                }
                try {
                    s.executeQuery("SELECT 1").close();
                    check(false, "after an error the transaction is aborted");
                } catch (SQLException e) {
                    check("25P02".equals(e.getSQLState()), "after an error: " + e.getSQLState());
                }
                c.rollback();
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM readings")) {
                    check(rs.next() && rs.getLong(1) == 2, "rollback ends the failed transaction; queries work");
                }
                c.commit();
            }
        });
        section("5. a write in a transaction, rolled back and committed", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                int n = s.executeUpdate("INSERT INTO readings VALUES (3, 'c', 3.00, DATE '2024-03-04', TIMESTAMP '2024-03-04 05:06:07', true, 1.0)");
                check(n == 1, "an INSERT in a transaction runs and reports its row (" + n + ")");
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM readings")) {
                    check(rs.next() && rs.getLong(1) == 3, "the transaction reads its own write");
                }
                c.rollback();
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM readings")) {
                    check(rs.next() && rs.getLong(1) == 2, "after rollback nothing was written");
                }
                c.commit();
                s.execute("CREATE TABLE jdbc_kept AS SELECT id, name FROM readings WHERE id = 1");
                s.executeUpdate("INSERT INTO jdbc_kept VALUES (9, 'z')");
                c.commit();
                c.setAutoCommit(true);
                try (ResultSet rs = s.executeQuery("SELECT id, name FROM jdbc_kept ORDER BY id")) {
                    check(rs.next() && rs.getInt(1) == 1 && rs.next() && rs.getInt(1) == 9 && "z".equals(rs.getString(2)) && !rs.next(),
                            "commit keeps a table made and written in the transaction");
                }
                s.execute("DROP TABLE jdbc_kept");
            }
        });
        section("5. savepoints", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                java.sql.Savepoint sp = c.setSavepoint("sp1");
                try {
                    s.executeQuery("SELECT * FROM no_such_table").close();
                    check(false, "a query of a missing table after SAVEPOINT fails");
                } catch (SQLException e) {
                    check("42P01".equals(e.getSQLState()), "an error after SAVEPOINT (SQLState " + e.getSQLState() + ")");
                }
                c.rollback(sp);
                try (ResultSet rs = s.executeQuery("SELECT 2")) {
                    check(rs.next() && rs.getInt(1) == 2, "rollback(savepoint) recovers from the error");
                }
                java.sql.Savepoint sp2 = c.setSavepoint();
                c.releaseSavepoint(sp2);
                c.commit();
                try (ResultSet rs = s.executeQuery("SELECT 3")) {
                    check(rs.next() && rs.getInt(1) == 3, "an unnamed savepoint, released; commit; the connection goes on");
                }
            }
        });
        section("5. read-only, isolation", () -> {
            try (Connection c = connect(""); Statement s = c.createStatement()) {
                c.setReadOnly(true);
                c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                check(c.getTransactionIsolation() == Connection.TRANSACTION_REPEATABLE_READ, "setTransactionIsolation / getTransactionIsolation");
                c.setAutoCommit(false);
                try (ResultSet rs = s.executeQuery("SELECT 3")) {
                    check(rs.next() && rs.getInt(1) == 3, "a read-only repeatable-read transaction");
                }
                c.commit();
            }
        });
        section("5. autosave=always", () -> {
            try (Connection c = connect("&autosave=always"); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                try {
                    s.executeQuery("SELECT * FROM no_such_table").close();
                    check(false, "autosave: a query of a missing table fails");
                } catch (SQLException e) {
                    check("42P01".equals(e.getSQLState()), "autosave: a missing table (SQLState " + e.getSQLState() + ")");
                }
                try (ResultSet rs = s.executeQuery("SELECT 1")) {
                    check(rs.next() && rs.getInt(1) == 1, "autosave: the transaction goes on after an error");
                }
                c.commit();
            }
        });

        // --- 6. the metadata BI tools ask for
        section("6. BI metadata", () -> {
            try (Connection c = connect("")) {
                DatabaseMetaData md = c.getMetaData();
                section("6. getTableTypes", () -> {
                    List<List<String>> types = rows(md.getTableTypes(), "TABLE_TYPE");
                    check(types.contains(List.of("TABLE")) && types.contains(List.of("VIEW")), "getTableTypes: " + types);
                });
                section("6. getTables TABLE,VIEW", () -> {
                    List<List<String>> t = rows(md.getTables(null, null, "%", new String[]{"TABLE", "VIEW"}),
                            "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
                    check(t.contains(List.of("default", "readings", "TABLE")) && t.contains(List.of("default", "cheap", "VIEW")),
                            "getTables(null, null, %, {TABLE, VIEW}): " + t);
                    check(t.stream().noneMatch(r -> r.get(0).startsWith("pg_") || r.get(0).equals("information_schema")),
                            "no system tables in TABLE/VIEW");
                });
                section("6. getColumns %", () -> {
                    List<List<String>> cols = rows(md.getColumns(null, "default", "%", "%"), "TABLE_NAME", "COLUMN_NAME");
                    check(cols.contains(List.of("readings", "score")) && cols.contains(List.of("cheap", "name")),
                            "getColumns(null, default, %, %): " + cols.size() + " columns");
                });
                section("6. getColumns of a view", () -> {
                    List<List<String>> cols = rows(md.getColumns(null, "default", "cheap", "%"), "COLUMN_NAME", "TYPE_NAME");
                    check(cols.equals(List.of(List.of("id", "int4"), List.of("name", "text"))), "getColumns of the view: " + cols);
                });
                section("6. getIndexInfo", () -> {
                    check(count(md.getIndexInfo(null, "default", "readings", false, true)) == 0, "getIndexInfo: none");
                });
                section("6. getFunctions", () -> {
                    int n = count(md.getFunctions(null, "default", "%"));
                    check(n >= 0, "getFunctions in default: " + n);
                });
                section("6. getProcedures", () -> {
                    int n = count(md.getProcedures(null, "default", "%"));
                    check(n >= 0, "getProcedures in default: " + n);
                });
                section("6. getTablePrivileges", () -> {
                    int n = count(md.getTablePrivileges(null, "default", "readings"));
                    check(n >= 0, "getTablePrivileges: " + n);
                });
                section("6. getSchemas pattern", () -> {
                    List<List<String>> s = rows(md.getSchemas(null, "def%"), "TABLE_SCHEM");
                    check(s.equals(List.of(List.of("default"))), "getSchemas(null, def%): " + s);
                });
                section("6. getUDTs", () -> {
                    int n = count(md.getUDTs(null, "default", "%", null));
                    check(n >= 0, "getUDTs: " + n);
                });
            }
        });

        System.out.println("pgjdbc: " + failures + " failures");
        System.exit(failures > 0 ? 1 : 0);
    }
}
