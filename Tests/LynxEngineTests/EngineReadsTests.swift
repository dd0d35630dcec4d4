import Foundation
import LynxEngine
import LynxIndex
import LynxJSON
import Synchronization
import XCTest

/// Reading by id order and by filter, and deleting many records in one transaction: pages against a reference
/// set, counts against a count in the test, bulk deletes all or nothing to readers and across a restart.
final class EngineReadsTests: EngineTestCase {
    func open(_ dir: String, index: IndexKind = .flat, tweak: (inout EngineConfig) -> Void = { _ in }) throws -> Engine {
        try open(dir, index: index, dimension: 4, tweak: tweak)
    }

    static func vector(_ id: UInt64) -> [Float] { [Float(id % 997), Float(id / 997), 1, -1] }

    /// Metadata `{"n": id % 10, "tag": "t<id % 3>"}` for ids not divisible by 7; none for the rest.
    static func metadata(_ id: UInt64) -> Metadata? {
        id % 7 == 0 ? nil : try! Metadata(json: Array(#"{"n":\#(id % 10),"tag":"t\#(id % 3)"}"#.utf8))
    }

    static func record(_ id: UInt64) -> VectorRecord { VectorRecord(id: id, vector: vector(id), metadata: metadata(id)) }

    static func eq(_ field: String, _ value: FieldValue) -> Filter { .condition(FieldPath([field]), .eq(value)) }

    /// Every page in turn, from the first: the ids, and each record checked against what was written.
    func export(_ engine: Engine, limit: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt64] {
        var ids: [UInt64] = []
        var after: UInt64?
        for _ in 0..<100_000 {
            let page = try engine.records(after: after, limit: limit, includeVector: true, includeMetadata: true)
            XCTAssertLessThanOrEqual(page.records.count, limit, file: file, line: line)
            for r in page.records {
                XCTAssertEqual(r.vector, Self.vector(r.id), file: file, line: line)
                XCTAssertEqual(r.metadata?.json, Self.metadata(r.id)?.json, file: file, line: line)
            }
            ids += page.records.map(\.id)
            guard let next = page.nextAfter else { return ids }
            XCTAssertEqual(next, page.records.last?.id, file: file, line: line)
            after = next
        }
        XCTFail("paging did not end", file: file, line: line)
        return ids
    }

    /// Random upserts and deletes over a sparse id range (leaves split, empty and merge): every page size gives
    /// exactly the live ids, ascending, each once.
    func testPagesVisitEveryLiveRecordInIdOrder() throws {
        let engine = try open(newDir())
        defer { engine.close() }
        var rng = SplitMix64(seed: 5)
        var live = Set<UInt64>()
        for round in 0..<6 {
            let batch = (0..<1500).map { _ in rng.next() % 40_000 + (round == 5 ? UInt64.max - 40_000 : 0) }
            let unique = Array(Set(batch))
            _ = try engine.upsert(unique.map(Self.record))
            live.formUnion(unique)
            for id in live.shuffled(using: &rng).prefix(700) {
                _ = try engine.delete(id)
                live.remove(id)
            }
        }
        let expected = live.sorted()
        XCTAssertEqual(engine.count, expected.count)
        for limit in [1, 7, 1000, 4096, expected.count + 1] where limit * 20 >= expected.count || limit == 1000 {
            XCTAssertEqual(try export(engine, limit: limit), expected, "limit \(limit)")
        }
        // A cursor between ids, and one past the end.
        let middle = expected[expected.count / 2]
        let page = try engine.records(after: middle - 1, limit: 3, includeVector: false, includeMetadata: false)
        XCTAssertEqual(page.records.map(\.id), Array(expected[(expected.count / 2)...].prefix(3)))
        XCTAssertNil(page.records[0].vector)
        XCTAssertNil(page.records[0].metadata)
        let end = try engine.records(after: expected.last!, limit: 10, includeVector: true, includeMetadata: true)
        XCTAssertTrue(end.records.isEmpty)
        XCTAssertNil(end.nextAfter)
        XCTAssertTrue(try engine.records(after: .max, limit: 10, includeVector: true, includeMetadata: true).records.isEmpty)
    }

    /// HNSW with records pending (upserts and deletes of linked records): pages show what readers see, and the same
    /// after a restart from a snapshot holding the pending operations, and after a replay of the log.
    func testPagesSeePendingRecordsAndSurviveRestart() throws {
        let dir = newDir()
        var expected: [UInt64] = []
        do {
            let engine = try open(dir, index: .hnsw)
            _ = try engine.upsert((0..<1200).map(Self.record))
            XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
            engine.setLinkingPaused(true)
            _ = try engine.upsert((1200..<1500).map(Self.record))
            for id in stride(from: 0, to: 1500, by: 4) as StrideTo<UInt64> { _ = try engine.delete(id) }
            XCTAssertGreaterThan(engine.pendingCount, 0)
            expected = (0..<1500).filter { $0 % 4 != 0 }
            XCTAssertEqual(try export(engine, limit: 100), expected)
            engine.close()  // snapshot with a pending section
        }
        do {
            let engine = try open(dir, index: .hnsw) { $0.linkingStartsPaused = true }
            XCTAssertEqual(try export(engine, limit: 333), expected)
            _ = try engine.delete(ids: [1, 2, 3])
            expected.removeAll { [1, 2, 3].contains($0) }
            engine.close(checkpoint: false)  // replayed next time
        }
        let engine = try open(dir, index: .hnsw)
        defer { engine.close() }
        XCTAssertEqual(try export(engine, limit: 1000), expected)
    }

    /// Counts with and without a filter, including filters that records without metadata pass.
    func testCountMatchingFilterEqualsACountOfTheRecords() throws {
        let engine = try open(newDir())
        defer { engine.close() }
        let ids = Array(0..<3000 as Range<UInt64>)
        _ = try engine.upsert(ids.map(Self.record))
        XCTAssertEqual(try engine.count(matching: nil), 3000)
        let filters: [(Filter, (UInt64) -> Bool)] = [
            (Self.eq("tag", .string("t1")), { $0 % 7 != 0 && $0 % 3 == 1 }),
            (.condition(FieldPath(["n"]), .gte(.int(8))), { $0 % 7 != 0 && $0 % 10 >= 8 }),
            (.condition(FieldPath(["n"]), .exists(false)), { $0 % 7 == 0 }),
            (.not(Self.eq("tag", .string("t0"))), { !($0 % 7 != 0 && $0 % 3 == 0) }),
            (.and([]), { _ in true }),
            (.or([]), { _ in false }),
        ]
        for (filter, reference) in filters {
            XCTAssertEqual(try engine.count(matching: filter), ids.filter(reference).count, "\(filter)")
        }
    }

    func testRecordsByIdsReportMissingIdsInTheOrderAsked() throws {
        let engine = try open(newDir())
        defer { engine.close() }
        _ = try engine.upsert([Self.record(5), Self.record(14), Self.record(9)])
        let lookup = try engine.records(ids: [9, 100, 5, 7, 14])
        XCTAssertEqual(lookup.found.map(\.id), [9, 5, 14])
        XCTAssertEqual(lookup.found.map(\.vector), [Self.vector(9), Self.vector(5), Self.vector(14)])
        XCTAssertNil(lookup.found[2].metadata)  // 14 % 7 == 0: written without metadata
        XCTAssertEqual(lookup.found[0].metadata?.json, Self.metadata(9)?.json)
        XCTAssertEqual(lookup.missing, [100, 7])
    }

    /// A delete by ids and one by filter are each one transaction (one LSN per deleted record, ending at the
    /// returned commit LSN), skip absent ids, hide the records from searches at once, and hold across a replay.
    func testBulkDeletesAreOneTransactionAndSurviveReplay() throws {
        let dir = newDir()
        var expected: [UInt64] = []
        for index in [IndexKind.flat, .hnsw] {
            let dir = index == .flat ? dir : newDir()
            do {
                let engine = try open(dir, index: index)
                if index == .hnsw { engine.setLinkingPaused(true) }  // the deletes meet pending records
                _ = try engine.upsert((0..<2000).map(Self.record))
                let before = engine.lastLSN
                let byIDs = try engine.delete(ids: [3, 4, 5, 999_999, 4])
                XCTAssertEqual(byIDs.deleted, 2 + 1)
                XCTAssertEqual(byIDs.lsn, before + 3)
                let tagged = Self.eq("tag", .string("t2"))
                let matches = try engine.count(matching: tagged)
                let byFilter = try engine.delete(matching: tagged)
                XCTAssertEqual(byFilter.deleted, matches)
                XCTAssertEqual(byFilter.lsn, before + 3 + UInt64(matches))
                XCTAssertEqual(try engine.count(matching: tagged), 0)
                let none = try engine.delete(matching: tagged)
                XCTAssertEqual(none.deleted, 0)
                XCTAssertEqual(none.lsn, byFilter.lsn)  // nothing logged
                expected = (0..<2000).filter { !(3...5).contains($0) && !($0 % 7 != 0 && $0 % 3 == 2) }
                XCTAssertEqual(try export(engine, limit: 500), expected)
                let hits = try engine.search(Self.vector(8), k: 2000, params: SearchParams(efSearch: 2000), filter: nil,
                                             includeMetadata: false, includeVector: false)
                XCTAssertTrue(Set(hits.map(\.id)).isDisjoint(with: [3, 4, 5, 8, 11]), "\(index)")
                engine.close(checkpoint: false)
            }
            let engine = try open(dir, index: index)
            XCTAssertEqual(try export(engine, limit: 500), expected, "\(index) after replay")
            engine.close()
        }
    }

    /// Searches running during a bulk delete (of pending records: the exact part of an HNSW store) see all of the
    /// victims or none of them.
    func testReadersSeeABulkDeleteWhole() throws {
        let engine = try open(newDir(), index: .hnsw)
        defer { engine.close() }
        engine.setLinkingPaused(true)
        _ = try engine.upsert((0..<3000).map(Self.record))
        let victims = Self.eq("tag", .string("t0"))
        let total = try engine.count(matching: victims)
        let stop = Atomic<Bool>(false)
        let torn = Atomic<Int>(0), reads = Atomic<Int>(0)
        let reader = Thread {
            while !stop.load(ordering: .relaxed) {
                let hits = try? engine.search(Self.vector(0), k: 3000, params: SearchParams(efSearch: 3000), filter: nil,
                                              includeMetadata: false, includeVector: false)
                let seen = hits.map { 3000 - $0.count } ?? -1
                if seen != 0 && seen != total { torn.add(1, ordering: .relaxed) }
                reads.add(1, ordering: .relaxed)
            }
        }
        reader.start()
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(try engine.delete(matching: victims).deleted, total)
        Thread.sleep(forTimeInterval: 0.05)
        stop.store(true, ordering: .relaxed)
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(torn.load(ordering: .relaxed), 0)
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 1)
    }
}
