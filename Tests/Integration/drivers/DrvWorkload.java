// The drivers workload for PostgreSQL JDBC (default prepareThreshold=5): one thread and one
// connection per client, PreparedStatements cached per connection and reused (so after 5 uses the
// driver switches to named server-side statements S_1, S_2, ...), batches, errors and rollbacks.
//
// java -cp postgresql.jar:DIR DrvWorkload JDBC_URL USER PASSWORD PLAN_FILE OUT_FILE
//
// PLAN_FILE (written by test_drivers.py), one item a line, fields separated by TAB:
//   CLIENT <n>
//   BLOCK <tx 0|1> <error 0|1>
//   OP <exec|query|batch> <sql with ?> <rows: params joined by \x1f, rows by \x1e; i123, s<text>, n (null)>
// OUT_FILE: "R <client> <index> <result>" lines and "FAIL <client> <message>" lines.
// Prints "checksum <sha256 of the sorted R lines>".

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public class DrvWorkload {
    record Op(String kind, String sql, List<List<String>> rows) {}
    record Block(boolean tx, boolean error, List<Op> ops) {}

    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], password = args[2];
        Map<Integer, List<Block>> plans = new LinkedHashMap<>();
        List<Block> current = null;
        Block block = null;
        for (String line : Files.readAllLines(Path.of(args[3]), StandardCharsets.UTF_8)) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "CLIENT" -> { current = new ArrayList<>(); plans.put(Integer.parseInt(f[1]), current); }
                case "BLOCK" -> { block = new Block(f[1].equals("1"), f[2].equals("1"), new ArrayList<>()); current.add(block); }
                case "OP" -> {
                    List<List<String>> rows = new ArrayList<>();
                    for (String row : f[3].split("\u001e", -1)) {
                        List<String> params = new ArrayList<>();
                        if (!row.isEmpty()) Collections.addAll(params, row.split("\u001f", -1));
                        rows.add(params);
                    }
                    block.ops().add(new Op(f[1], f[2], rows));
                }
                default -> throw new IllegalArgumentException("bad plan line: " + line);
            }
        }
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);

        Map<Integer, List<String>> results = new HashMap<>();
        Map<Integer, String> failures = new HashMap<>();
        List<Thread> threads = new ArrayList<>();
        for (var entry : plans.entrySet()) {
            int client = entry.getKey();
            List<String> out = Collections.synchronizedList(new ArrayList<>());
            results.put(client, out);
            Thread t = new Thread(() -> {
                try {
                    runClient(url, props, entry.getValue(), out);
                } catch (Throwable e) {
                    synchronized (failures) { failures.put(client, String.valueOf(e).replace('\n', ' ')); }
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) t.join();

        List<String> lines = new ArrayList<>();
        for (var entry : results.entrySet()) {
            List<String> out = entry.getValue();
            for (int i = 0; i < out.size(); i++) lines.add("R\t" + entry.getKey() + "\t" + i + "\t" + out.get(i));
        }
        Collections.sort(lines);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (String l : lines) sha.update((l + "\n").getBytes(StandardCharsets.UTF_8));
        List<String> all = new ArrayList<>(lines);
        for (var f : failures.entrySet()) all.add("FAIL\t" + f.getKey() + "\t" + f.getValue());
        Files.write(Path.of(args[4]), all, StandardCharsets.UTF_8);
        StringBuilder hex = new StringBuilder();
        for (byte b : sha.digest()) hex.append(String.format("%02x", b));
        System.out.println("checksum " + hex);
        System.out.println("failures " + failures.size());
    }

    static void runClient(String url, Properties props, List<Block> plan, List<String> out) throws SQLException {
        try (Connection conn = DriverManager.getConnection(url, props)) {
            Map<String, PreparedStatement> cache = new HashMap<>();
            for (Block block : plan) {
                List<String> res = new ArrayList<>();
                try {
                    if (block.tx()) conn.setAutoCommit(false);
                    for (Op op : block.ops()) res.add(run(conn, cache, op));
                    if (block.tx()) conn.commit();
                } catch (SQLException e) {
                    if (block.tx()) conn.rollback();
                    if (!block.error()) throw e;
                    res = List.of("error:" + e.getSQLState());
                } finally {
                    if (block.tx()) conn.setAutoCommit(true);
                }
                if (block.error() && !(res.size() == 1 && res.get(0).startsWith("error:"))) res = List.of("noerror");
                out.addAll(res);
            }
            for (PreparedStatement ps : cache.values()) ps.close();
        }
    }

    static String run(Connection conn, Map<String, PreparedStatement> cache, Op op) throws SQLException {
        PreparedStatement ps = cache.get(op.sql());
        if (ps == null) { ps = conn.prepareStatement(op.sql()); cache.put(op.sql(), ps); }
        switch (op.kind()) {
            case "exec" -> { bind(ps, op.rows().get(0)); ps.executeUpdate(); return "ok"; }
            case "batch" -> {
                for (List<String> row : op.rows()) { bind(ps, row); ps.addBatch(); }
                ps.executeBatch();
                return "ok";
            }
            default -> {
                bind(ps, op.rows().get(0));
                StringBuilder sb = new StringBuilder("r:");
                try (ResultSet rs = ps.executeQuery()) {
                    int cols = rs.getMetaData().getColumnCount();
                    boolean firstRow = true;
                    while (rs.next()) {
                        if (!firstRow) sb.append(';');
                        firstRow = false;
                        for (int c = 1; c <= cols; c++) {
                            if (c > 1) sb.append('|');
                            String v = rs.getString(c);
                            sb.append(v == null ? "NULL" : v);
                        }
                    }
                }
                return sb.toString();
            }
        }
    }

    static void bind(PreparedStatement ps, List<String> params) throws SQLException {
        for (int i = 0; i < params.size(); i++) {
            String p = params.get(i);
            switch (p.charAt(0)) {
                case 'i' -> ps.setInt(i + 1, Integer.parseInt(p.substring(1)));
                case 's' -> ps.setString(i + 1, p.substring(1));
                default -> ps.setNull(i + 1, java.sql.Types.INTEGER);
            }
        }
    }
}
