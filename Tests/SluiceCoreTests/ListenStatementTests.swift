// Tests for ListenStatements: which Query texts the notification relay takes, and the channel names PostgreSQL would use.
import XCTest
@testable import SluiceCore

final class ListenStatementTests: XCTestCase {
    private func parse(_ text: String) -> [ListenOp]? {
        Array(text.utf8).withUnsafeBytes { ListenStatements.parse($0)?.ops }
    }

    private func prefix(_ text: String, complete: Bool = true) -> ListenStatements.Prefix {
        Array(text.utf8).withUnsafeBytes { ListenStatements.prefix($0, complete: complete) }
    }

    func testListenAndUnlistenStatements() {
        XCTAssertEqual(parse("LISTEN orders"), [.listen("orders")])
        XCTAssertEqual(parse("listen Orders;"), [.listen("orders")], "unquoted names fold to lower case")
        XCTAssertEqual(parse(#"LISTEN "Orders""#), [.listen("Orders")], "quoted names keep their case")
        XCTAssertEqual(parse(#"LISTEN "with ""quote"" and space""#), [.listen(#"with "quote" and space"#)])
        XCTAssertEqual(parse("UNLISTEN orders"), [.unlisten("orders")])
        XCTAssertEqual(parse("UNLISTEN *"), [.unlistenAll])
        XCTAssertEqual(parse("unlisten\t*\n;"), [.unlistenAll])
        XCTAssertEqual(parse("  LISTEN a; LISTEN b ;;UNLISTEN c ; unlisten *"),
                       [.listen("a"), .listen("b"), .unlisten("c"), .unlistenAll])
        XCTAssertEqual(parse("LISTEN chan_1$x"), [.listen("chan_1$x")])
        XCTAssertEqual(parse("LISTEN café"), [.listen("café")], "non-ASCII letters are kept as they are")
        XCTAssertEqual(parse("LISTEN ÉTÉ"), [.listen("ÉtÉ")], "PostgreSQL folds only ASCII letters in UTF-8")
        XCTAssertEqual(parse("LISTEN listen"), [.listen("listen")], "an unreserved keyword is a name")
        XCTAssertEqual(parse("-- a comment\nLISTEN /* one /* nested */ */ a -- trailing"), [.listen("a")])
        XCTAssertEqual(ListenOp.listen("a").tag, "LISTEN")
        XCTAssertEqual(ListenOp.unlistenAll.tag, "UNLISTEN")
    }

    func testEverythingElseGoesToTheServer() {
        for text in ["", ";", " ; ", "SELECT 1", "LISTEN", "LISTEN a b", "LISTEN a; SELECT 1", "SELECT 1; LISTEN a",
                     "LISTEN *", "UNLISTEN", "LISTEN 1abc", #"LISTEN """#, #"LISTEN "unterminated"#,
                     "LISTEN select", "LISTEN SELECT", "LISTEN user", #"LISTEN U&"d\0061t""#, "LISTEN a /* open",
                     "LISTENa", "NOTIFY a", "LISTEN a.b", "BEGIN; LISTEN a; COMMIT"] {
            XCTAssertNil(parse(text), text)
        }
        XCTAssertEqual(parse(#"LISTEN "select""#), [.listen("select")], "a quoted reserved word is a name")
        // Not UTF-8: left to the server.
        XCTAssertNil([UInt8]("LISTEN ".utf8 + [0xff, 0xfe]).withUnsafeBytes { ListenStatements.parse($0) })
    }

    func testLongNamesAreCutTo63BytesWithANotice() {
        let long = String(repeating: "a", count: 70)
        let request = Array("LISTEN \(long)".utf8).withUnsafeBytes { ListenStatements.parse($0) }
        let cut = String(repeating: "a", count: 63)
        XCTAssertEqual(request?.ops, [.listen(cut)])
        XCTAssertEqual(request?.truncationNotices, ["identifier \"\(long)\" will be truncated to \"\(cut)\""])
        // A multi-byte character is not split: 62 ASCII bytes and "é" (2 bytes) is 64; the é goes.
        let name = String(repeating: "b", count: 62) + "é"
        XCTAssertEqual(parse(#"LISTEN "\#(name)""#), [.listen(String(repeating: "b", count: 62))])
        XCTAssertEqual(parse("LISTEN " + String(repeating: "c", count: 63)), [.listen(String(repeating: "c", count: 63))])
    }

    func testThePrefixTestDecidesOnTheFirstBytes() {
        XCTAssertEqual(prefix("SELECT 1"), .no)
        XCTAssertEqual(prefix("update t set x = 1"), .no)
        XCTAssertEqual(prefix("unlisten *"), .maybe)
        XCTAssertEqual(prefix("  Listen a"), .maybe)
        XCTAssertEqual(prefix("listener_count()"), .no)
        XCTAssertEqual(prefix("LISTEN"), .maybe)
        XCTAssertEqual(prefix("/* hint */ SELECT 1"), .maybe, "a leading comment needs the whole text")
        XCTAssertEqual(prefix("-- x\nSELECT 1"), .maybe)
        XCTAssertEqual(prefix(""), .no)
        // Part of a message: decided when the bytes that came decide it.
        XCTAssertEqual(prefix("LIS", complete: false), .needMore)
        XCTAssertEqual(prefix("LISTEN", complete: false), .needMore)
        XCTAssertEqual(prefix("LIT", complete: false), .no)
        XCTAssertEqual(prefix("   ", complete: false), .needMore)
        XCTAssertEqual(prefix("S", complete: false), .no)
    }

    func testQuotedNamesForTheListener() {
        XCTAssertEqual(ListenStatements.quoted("orders"), #""orders""#)
        XCTAssertEqual(ListenStatements.quoted(#"a"b"#), #""a""b""#)
    }
}
