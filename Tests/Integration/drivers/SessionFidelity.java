// test_session_fidelity.py: pgJDBC through a session-mode Sluice. Prints the driver's backend pid
// (PGConnection.getBackendPID, from BackendKeyData) and `select pg_backend_pid()`, the server's
// client_encoding/DateStyle/TimeZone as the driver was told them, then cancels `select pg_sleep(10)`
// with Statement.cancel() from another thread after one second and prints the SQLSTATE and how
// long the cancel took to arrive. Usage: java SessionFidelity URL USER PASSWORD
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class SessionFidelity {
    private static volatile long cancelledAt = 0;

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2])) {
            int driverPid = ((org.postgresql.PGConnection) c).getBackendPID();
            int serverPid;
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select pg_backend_pid()")) {
                r.next();
                serverPid = r.getInt(1);
            }
            System.out.println("pid " + driverPid + " " + serverPid);
            org.postgresql.core.BaseConnection base = c.unwrap(org.postgresql.core.BaseConnection.class);
            System.out.println("client_encoding " + base.getQueryExecutor().getParameterStatus("client_encoding"));
            final Statement sleeper = c.createStatement();
            Thread canceller = new Thread(() -> {
                try {
                    Thread.sleep(1000);
                    cancelledAt = System.nanoTime();
                    sleeper.cancel();
                } catch (Exception e) {
                    e.printStackTrace();
                }
            });
            canceller.start();
            String state = "none";
            try {
                sleeper.execute("select pg_sleep(10)");
            } catch (SQLException e) {
                state = e.getSQLState();
            }
            long end = System.nanoTime();
            canceller.join();
            System.out.println("cancel " + state + " " + (end - cancelledAt) / 1_000_000);
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 1")) {
                r.next();
                System.out.println("after " + r.getInt(1));
            }
        }
    }
}
