import LynxJSON
import XCTest
import LynxReplication

/// The election's order of nodes: a newer last term first, then at least as far on every store.
final class ElectionPositionTests: XCTestCase {
    private func node(_ stores: [UInt64: (term: UInt64, lsn: UInt64)]) -> ElectionPosition {
        ElectionPosition(stores: stores.mapValues { StorePosition(term: $0.term, lsn: $0.lsn) })
    }

    func testANewerTermBeatsALongerLogOfAnOlderTerm() {
        // A deposed leader (term 1) kept 10 frames it never had acknowledged; the node that followed the next
        // leader (term 2) holds the 5 frames term 2 acknowledged. The sum of LSNs (100 > 95) chose the deposed
        // leader, whose election discarded term 2's acknowledged frames.
        let deposed = node([7: (1, 100)])
        let follower = node([7: (2, 95)])
        XCTAssertTrue(follower.isAhead(of: deposed))
        XCTAssertFalse(deposed.isAhead(of: follower))
    }

    func testWithTheSameNewestTermANodeIsAheadOnlyWhenAtLeastAsFarOnEveryStore() {
        let a = node([1: (3, 50), 2: (3, 20)])
        XCTAssertTrue(a.isAhead(of: node([1: (3, 40), 2: (3, 20)])))
        XCTAssertFalse(a.isAhead(of: a), "as far is not ahead")
        // Further on one store each: neither is ahead (either may lead), whatever their sums.
        let b = node([1: (3, 10), 2: (3, 90)])
        XCTAssertFalse(a.isAhead(of: b))
        XCTAssertFalse(b.isAhead(of: a))
        // A store only one node has counts as (0, 0) on the other.
        let aPlus = node([1: (3, 50), 2: (3, 20), 9: (2, 1)])
        XCTAssertTrue(aPlus.isAhead(of: a))
        XCTAssertFalse(a.isAhead(of: aPlus))
        XCTAssertFalse(node([1: (3, 50), 9: (2, 1)]).isAhead(of: a), "behind on store 2, which it lacks")
        // Within a store, the older last term is behind even with more frames.
        XCTAssertTrue(node([1: (3, 50), 2: (3, 5)]).isAhead(of: node([1: (3, 50), 2: (2, 30)])))
    }

    func testAnEmptyNodeIsBehindEveryNodeWithFrames() {
        XCTAssertTrue(node([1: (0, 3)]).isAhead(of: node([:])))
        XCTAssertFalse(node([:]).isAhead(of: node([1: (0, 3)])))
        XCTAssertFalse(node([:]).isAhead(of: node([:])))
    }

    func testThePublishedFormReadsBack() throws {
        let p = node([1: (3, 50), .max: (.max, .max), 0: (0, 0)])
        var w = JSONWriter(capacity: 64)
        p.write(to: &w)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self),
                       #"[{"store":0,"term":0,"lsn":0},{"store":1,"term":3,"lsn":50},{"store":18446744073709551615,"term":18446744073709551615,"lsn":18446744073709551615}]"#)
        XCTAssertEqual(ElectionPosition(try JSONParser.parse(w.bytes)), p)
        // An older release's number is not a position.
        XCTAssertNil(ElectionPosition(try JSONParser.parse(Array("150".utf8))))
        XCTAssertNil(ElectionPosition(try JSONParser.parse(Array(#"[{"store":1,"term":3}]"#.utf8))))
    }
}
