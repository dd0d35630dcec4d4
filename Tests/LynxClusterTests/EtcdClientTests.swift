import Foundation
import LynxCluster
import XCTest

final class EtcdClientTests: EtcdTestCase {
    func testLeaseKeptAliveHoldsItsKeyAndAnExpiredOneLosesIt() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let kept = try etcd.grantLease(ttlSeconds: 2)
        let left = try etcd.grantLease(ttlSeconds: 2)
        XCTAssertNotEqual(kept, left)
        let keptKey = uniqueKey("kept"), leftKey = uniqueKey("left")
        try etcd.put(keptKey, value: Array("k".utf8), lease: kept)
        try etcd.put(leftKey, value: Array("l".utf8), lease: left)
        XCTAssertEqual(try etcd.get(leftKey)?.lease, left)

        let granted = Date()
        var vanishedAfter: Double?
        while vanishedAfter == nil && Date().timeIntervalSince(granted) < 8 {
            XCTAssertGreaterThan(try etcd.keepAlive(lease: kept), 0)
            if try etcd.get(leftKey) == nil { vanishedAfter = Date().timeIntervalSince(granted) }
            Thread.sleep(forTimeInterval: 0.25)
        }
        let after = try XCTUnwrap(vanishedAfter, "a key whose lease got no keep-alive outlived 8 s")
        XCTAssertGreaterThanOrEqual(after, 1.5, "the key went before its TTL")
        XCTAssertLessThanOrEqual(try etcd.keepAlive(lease: left), 0, "an expired lease still has a TTL")
        // Kept alive past the other's expiry by more than a TTL: still there.
        for _ in 0..<5 {
            XCTAssertGreaterThan(try etcd.keepAlive(lease: kept), 0)
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(try etcd.get(keptKey)?.value, Array("k".utf8))

        try etcd.revoke(lease: kept)
        XCTAssertNil(try etcd.get(keptKey), "revoking a lease deletes its keys")
        try etcd.revoke(lease: kept)  // already gone: not an error
        XCTAssertLessThanOrEqual(try etcd.keepAlive(lease: kept), 0)
    }

    func testCreateIfAbsentRaceHasOneWinnerThatBothSee() throws {
        let url = try etcdURL()
        let clients = [EtcdClient(endpoints: [url]), EtcdClient(endpoints: [url])]
        let leases = try clients.map { try $0.grantLease(ttlSeconds: 10) }
        defer { for (client, lease) in zip(clients, leases) { try? client.revoke(lease: lease) } }
        for round in 0..<10 {
            let key = uniqueKey("leader-\(round)")
            let results = Results()
            let go = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for side in 0..<2 {
                DispatchQueue.global().async(group: group) {
                    go.wait()
                    let outcome = Result { try clients[side].createIfAbsent(key, value: [UInt8(side)], lease: leases[side]) }
                    results.set(side, outcome.map { ($0.created, $0.current) })
                }
            }
            go.signal(); go.signal()
            XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
            let outcomes = try (0..<2).map { try XCTUnwrap(results.get($0)).get() }
            XCTAssertEqual(outcomes.filter(\.0).count, 1, "round \(round): exactly one creates the key")
            let winner = outcomes.firstIndex { $0.0 }!
            let seen = try outcomes.map { try XCTUnwrap($0.1) }
            XCTAssertEqual(seen[0], seen[1], "round \(round): both see the same key")
            XCTAssertEqual(seen[0].value, [UInt8(winner)])
            XCTAssertEqual(seen[0].lease, leases[winner])
            XCTAssertEqual(seen[0].createRevision, try etcd(url).get(key)?.createRevision)
        }
    }

    func testCreateIfAbsentLeavesAnExistingKeyAlone() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let key = uniqueKey("taken")
        let revision = try etcd.put(key, value: Array("first".utf8))
        let (created, current) = try etcd.createIfAbsent(key, value: Array("second".utf8), lease: 0)
        XCTAssertFalse(created)
        XCTAssertEqual(current?.value, Array("first".utf8))
        XCTAssertEqual(current?.createRevision, revision)
    }

    func testDeleteIfRefusesAnotherCreateRevision() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let key = uniqueKey("leader")
        try etcd.put(key, value: Array("a".utf8))
        let first = try XCTUnwrap(try etcd.get(key)).createRevision
        XCTAssertFalse(try etcd.deleteIf(key, createRevision: first + 1))
        XCTAssertNotNil(try etcd.get(key))
        XCTAssertTrue(try etcd.deleteIf(key, createRevision: first))
        XCTAssertNil(try etcd.get(key))
        XCTAssertFalse(try etcd.deleteIf(key, createRevision: first), "nothing left to delete")
        // A key created again (a new term) is not deleted with the old term's revision.
        try etcd.put(key, value: Array("b".utf8))
        let second = try XCTUnwrap(try etcd.get(key)).createRevision
        XCTAssertGreaterThan(second, first)
        XCTAssertFalse(try etcd.deleteIf(key, createRevision: first))
        XCTAssertEqual(try etcd.get(key)?.value, Array("b".utf8))
    }

    func testGetPrefixReturnsExactlyTheKeysUnderIt() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let base = uniqueKey("c")
        let inside = ["\(base)/nodes/a", "\(base)/nodes/b", "\(base)/nodes/b/x"]
        // Neighbours just outside the prefix: the prefix without its slash, and the key after the range end.
        for key in ["\(base)/nodes", "\(base)/nodes0", "\(base)/node"] + inside.reversed() {
            try etcd.put(key, value: Array(key.utf8))
        }
        let found = try etcd.getPrefix("\(base)/nodes/")
        XCTAssertEqual(found.map(\.key), inside)
        XCTAssertEqual(found.map(\.value), inside.map { Array($0.utf8) })
        XCTAssertEqual(try etcd.getPrefix("\(base)/none/"), [])
    }

    func testValuesRoundTripAndRevisionsAreReported() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let key = uniqueKey("bytes"), empty = uniqueKey("empty")
        let bytes = (0...255).map { UInt8($0) }
        let created = try etcd.put(key, value: bytes)
        let modified = try etcd.put(key, value: bytes.reversed())
        XCTAssertGreaterThan(modified, created)
        let kv = try XCTUnwrap(try etcd.get(key))
        XCTAssertEqual(kv, EtcdKeyValue(key: key, value: bytes.reversed(), createRevision: created, modRevision: modified, lease: 0))
        try etcd.put(empty, value: [])
        XCTAssertEqual(try etcd.get(empty)?.value, [])
        XCTAssertNil(try etcd.get(uniqueKey("absent")))
    }

    func testFailsOverFromADeadEndpointAndNamesEveryFailure() throws {
        let live = try etcdURL()
        let dead = "http://127.0.0.1:\(LoopbackSockets.freePort())"
        let etcd = EtcdClient(endpoints: [dead, live + "/"])
        let key = uniqueKey("failover")
        try etcd.put(key, value: [1])
        XCTAssertEqual(try etcd.get(key)?.value, [1])

        let nowhere = EtcdClient(endpoints: [dead, "http://127.0.0.1:\(LoopbackSockets.freePort())"], timeoutSeconds: 0.5)
        let start = Date()
        XCTAssertThrowsError(try nowhere.get(key)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(dead), text)
            XCTAssertTrue(text.hasPrefix("no etcd endpoint answered"), text)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testRefusalIsReportedNotFailedOver() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        // A put under a lease etcd never granted: etcd answers "requested lease not found".
        XCTAssertThrowsError(try etcd.put(uniqueKey("nolease"), value: [1], lease: 0x7fff_0000_0000_0001)) { error in
            XCTAssertTrue("\(error)".contains("lease not found"), "\(error)")
        }
    }

    func testOneClientServesManyThreads() throws {
        let etcd = EtcdClient(endpoints: [try etcdURL()])
        let base = uniqueKey("threads")
        let revisions = Revisions()
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for i in 0..<40 {
                revisions.add(Result { try etcd.put("\(base)/\(thread)-\(i)", value: [UInt8(i)]) })
            }
        }
        let all = try revisions.all.map { try $0.get() }
        XCTAssertEqual(Set(all).count, 160, "every put got a revision of its own")
        XCTAssertEqual(try etcd.getPrefix(base + "/").count, 160)
    }

    private func etcd(_ url: String) -> EtcdClient { EtcdClient(endpoints: [url]) }
}

/// Results written by two threads, read after both finished.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Result<(Bool, EtcdKeyValue?), Error>] = [:]
    func set(_ side: Int, _ value: Result<(Bool, EtcdKeyValue?), Error>) { lock.withLock { values[side] = value } }
    func get(_ side: Int) -> Result<(Bool, EtcdKeyValue?), Error>? { lock.withLock { values[side] } }
}

private final class Revisions: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<Int64, Error>] = []
    func add(_ result: Result<Int64, Error>) { lock.withLock { results.append(result) } }
    var all: [Result<Int64, Error>] { lock.withLock { results } }
}
