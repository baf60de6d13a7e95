// Tests for SessionStateScan: which statement texts create or clear session state (pinning in transaction mode).
import XCTest
@testable import SluiceCore

final class SessionStateScanTests: XCTestCase {
    private func pins(_ text: String) -> SessionPins { SessionStateScan.scan(text).pins }
    private func clears(_ text: String) -> SessionPins { SessionStateScan.scan(text).clears }

    func testTempTables() {
        for text in ["CREATE TEMP TABLE t (x int)", "create temporary table t as select 1", "CREATE GLOBAL TEMPORARY TABLE t (x int)",
                     "create local temp table if not exists t (x int)", "create temp unlogged table t ()",
                     "CREATE TEMP VIEW v AS SELECT 1", "create temp sequence s", "create table pg_temp.t (x int)",
                     "create table if not exists pg_temp.t (x int)", "select * into temp t from generate_series(1, 3)",
                     "SELECT 1 AS a INTO TEMPORARY TABLE t", "create temp table t (x int) on commit delete rows",
                     "  /* a comment */ create -- another\n temp table t (x int)"] {
            XCTAssertEqual(pins(text), .tempTable, text)
        }
        for text in ["create temp table t (x int) on commit drop", "create table temps (x int)", "create table t (temp int)",
                     "select temp from t", "select 'create temp table t ()'", "-- create temp table t\nselect 1",
                     "create table pg_temp_things (x int)"] {
            XCTAssertEqual(pins(text), [], text)
        }
        XCTAssertEqual(clears("DISCARD TEMP"), .tempTable)
        XCTAssertEqual(clears("discard temporary"), .tempTable)
    }

    func testAdvisoryLocks() {
        for text in ["select pg_advisory_lock(1)", "SELECT PG_TRY_ADVISORY_LOCK(1, 2)", "select pg_advisory_lock_shared($1)",
                     "select pg_try_advisory_lock_shared(hashtext('x'))", "select 1; select pg_advisory_lock(7)",
                     "do $$ begin perform pg_advisory_lock(1); end $$"] {
            XCTAssertEqual(pins(text), .advisoryLock, text)
        }
        for text in ["select pg_advisory_xact_lock(1)", "select pg_try_advisory_xact_lock(1)", "select pg_advisory_unlock(1)",
                     "select 'pg_advisory_lock(1)'", "select pg_advisory_lock"] {
            XCTAssertEqual(pins(text), [], text)
        }
        XCTAssertEqual(clears("select pg_advisory_unlock_all()"), .advisoryLock)
    }

    func testCursorsWithHold() {
        let held = SessionStateScan.scan("DECLARE c1 CURSOR WITH HOLD FOR select 1")
        XCTAssertEqual(held.pins, .holdCursor)
        XCTAssertEqual(held.cursorsDeclared, ["c1"])
        XCTAssertEqual(SessionStateScan.scan("declare \"Big\" no scroll cursor with hold for select 1").cursorsDeclared, ["Big"])
        XCTAssertEqual(pins("declare c cursor for select 1"), [], "without hold a cursor ends with its transaction")
        XCTAssertEqual(pins("declare c cursor without hold for select 1"), [])
        XCTAssertEqual(pins("declare c cursor for select hold, with from t"), [], "words after FOR are the query")
        XCTAssertEqual(SessionStateScan.scan("CLOSE C1").cursorsClosed, ["c1"])
        XCTAssertEqual(clears("close all"), .holdCursor)
    }

    func testSQLPrepare() {
        let prepared = SessionStateScan.scan("PREPARE fooplan (int, text) AS INSERT INTO foo VALUES($1, $2)")
        XCTAssertEqual(prepared.pins, .sqlPrepare)
        XCTAssertEqual(prepared.prepared, ["fooplan"])
        XCTAssertEqual(pins("prepare transaction 'tx1'"), [], "two-phase commit is not a statement")
        XCTAssertEqual(SessionStateScan.scan("deallocate fooplan").deallocated, ["fooplan"])
        XCTAssertEqual(SessionStateScan.scan("DEALLOCATE PREPARE fooplan").deallocated, ["fooplan"])
        XCTAssertEqual(clears("deallocate all"), .sqlPrepare)
        XCTAssertEqual(clears("deallocate prepare all"), .sqlPrepare)
    }

    func testRoles() {
        for text in ["SET ROLE reporting", "set session role reporting", "set role 'reporting'", "SET SESSION AUTHORIZATION bob",
                     "set session session authorization bob"] {
            XCTAssertEqual(pins(text), .role, text)
        }
        XCTAssertEqual(pins("set local role reporting"), [], "ends with the transaction")
        XCTAssertEqual(pins("set search_path to role"), [])
        for text in ["RESET ROLE", "set role none", "reset session authorization", "SET SESSION AUTHORIZATION DEFAULT"] {
            XCTAssertEqual(clears(text), .role, text)
            XCTAssertEqual(pins(text), [], text)
        }
        XCTAssertFalse(clears("reset all").contains(.role), "RESET ALL does not reset the role")
    }

    func testSetConfig() {
        for text in ["select set_config('a.b', 'x', false)", "select set_config('a.b', 'x', 'off')", "select set_config('a.b', 'x', $3)",
                     "select set_config('a.b', 'x', (1 = 0))", "select set_config($1, $2, $3)",
                     "SELECT SET_CONFIG('search_path', 'a, b', FALSE)"] {
            XCTAssertEqual(pins(text), .setConfig, text)
        }
        for text in ["select set_config('a.b', 'x', true)", "select set_config('a.b', 'x', 't')", "select set_config('a.b', f('x', 'y'), true)",
                     "select current_setting('a.b')"] {
            XCTAssertEqual(pins(text), [], text)
        }
        XCTAssertEqual(clears("reset all"), .setConfig)
    }

    func testListenAndDiscardAll() {
        XCTAssertEqual(pins("LISTEN jobs"), .listen)
        XCTAssertEqual(pins("unlisten jobs"), [])
        XCTAssertEqual(clears("UNLISTEN *"), .listen)
        XCTAssertEqual(clears("DISCARD ALL"), [.tempTable, .advisoryLock, .holdCursor, .sqlPrepare, .role, .setConfig, .listen])
        XCTAssertEqual(clears("discard plans"), [])
    }

    func testOrdinaryStatementsCostOneByteTest() {
        for text in ["select abalance from pgbench_accounts where aid = $1", "BEGIN", "COMMIT",
                     "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", "insert into t values (1)"] {
            let bytes = Array(text.utf8)
            XCTAssertFalse(bytes.withUnsafeBytes { SessionStateScan.mayMatter($0) }, text)
            XCTAssertTrue(SessionStateScan.scan(text).isEmpty, text)
        }
    }

    func testQuotingAndMalformedText() {
        XCTAssertEqual(pins("select 'it''s', pg_advisory_lock(1)"), .advisoryLock, "doubled quotes inside a literal")
        XCTAssertEqual(pins("select E'\\' pg_advisory_lock(1)'"), [], "in an escape string a backslash escapes the quote")
        XCTAssertEqual(pins("select e'\\\\', pg_advisory_lock(1)"), .advisoryLock, "an escaped backslash ends with the quote")
        XCTAssertEqual(pins("select '\\', pg_advisory_lock(1)"), .advisoryLock, "a standard string has no escapes")
        XCTAssertEqual(pins("select \"pg_advisory_lock\"(1)"), [], "a quoted identifier is not the function's lower-case name")
        for text in ["'", "\"", "/*", "create", "declare", "set", "set role", "prepare", "deallocate", "close", "select set_config(",
                     "select pg_advisory_lock(", String(repeating: "(", count: 10_000)] {
            _ = SessionStateScan.scan(text)  // no crash, no hang
        }
        let long = String(repeating: " ", count: SessionStateScan.maxBytes) + "select pg_advisory_lock(1)"
        XCTAssertEqual(pins(long), [], "only the first maxBytes bytes are read")
    }

    func testLabels() {
        XCTAssertEqual(SessionPins([.tempTable, .advisoryLock]).label, "temp_table,advisory_lock")
        XCTAssertEqual(SessionPins().label, "")
        XCTAssertEqual(SessionPins.allKinds.count, 7)
    }
}
