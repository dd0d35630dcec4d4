import XCTest
import LynxStorage
import LynxReplication

final class TermHistoryTests: XCTestCase {
    /// Leader history: term 5 from LSN 1, term 9 from LSN 100 (lastLSN 150).
    let leader = TermHistory(storeID: StoreID(rawValue: 42)!, entries: [TermStart(term: 5, startLSN: 1), TermStart(term: 9, startLSN: 100)])

    func testAPrefixOfTheLeadersLogIsNotDiverged() {
        XCTAssertNil(leader.divergence(followerLSN: 0, followerTerm: 0, lastLSN: 150))
        XCTAssertNil(leader.divergence(followerLSN: 99, followerTerm: 5, lastLSN: 150))
        XCTAssertNil(leader.divergence(followerLSN: 150, followerTerm: 9, lastLSN: 150))
    }

    func testAnOldLeadersExtraFramesDivergeAfterTheEndOfItsTerm() {
        // The follower led term 5 past LSN 99, which the new leader (term 9) never had.
        let d = leader.divergence(followerLSN: 120, followerTerm: 5, lastLSN: 150)
        XCTAssertEqual(d?.at, 100)
        XCTAssertEqual(d?.termKnown, true)
    }

    func testATermTheLeaderNeverHadIsDivergedEvenWithinItsLength() {
        // Term 7 wrote LSN 95 on the follower; here LSN 95 is term 5's.
        let d = leader.divergence(followerLSN: 95, followerTerm: 7, lastLSN: 150)
        XCTAssertNotNil(d)
        XCTAssertEqual(d?.termKnown, false)
        XCTAssertLessThanOrEqual(d!.at, 95)
    }

    func testAFollowerAheadOfTheLeaderInTheSameTermIsDiverged() {
        XCTAssertEqual(leader.divergence(followerLSN: 160, followerTerm: 9, lastLSN: 150)?.at, 151)
    }

    func testTermAtAnLSN() {
        XCTAssertEqual(leader.term(at: 0), 0)
        XCTAssertEqual(leader.term(at: 1), 5)
        XCTAssertEqual(leader.term(at: 99), 5)
        XCTAssertEqual(leader.term(at: 100), 9)
        XCTAssertEqual(leader.prefix(through: 99).entries.count, 1)
    }

    func testTheFileRoundTripsAndRefusesGarbage() throws {
        let dir = NSTemporaryDirectory() + "terms-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertNil(try TermHistoryFile.load(storeDirectory: dir))
        try TermHistoryFile.save(leader, storeDirectory: dir)
        XCTAssertEqual(try TermHistoryFile.load(storeDirectory: dir), leader)
        try Array("lynx-terms 1 42\n5 x\n".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir + "/TERMS")) }
        XCTAssertThrowsError(try TermHistoryFile.load(storeDirectory: dir))
    }
}
