import Foundation
import LynxEngine
import LynxIndex
import LynxJSON
import LynxSupport
import Synchronization
import XCTest

/// The HNSW write path with background linking: writes land in the pending tail (searched exactly), the builder
/// links them into the graph, and readers never see a record twice, missing, or in a superseded version.
final class EnginePendingTests: EngineTestCase {
    static func vectors(count: Int, dim: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<dim).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 } }
    }

    /// Records `range` of `data`, each with its index as id.
    static func records(_ data: [[Float]], _ range: Range<Int>) -> [VectorRecord] {
        range.map { VectorRecord(id: UInt64($0), vector: data[$0]) }
    }

    func search(_ engine: Engine, _ q: [Float], k: Int, filter: Filter? = nil) throws -> [SearchResultItem] {
        try engine.search(q, k: k, params: SearchParams(efSearch: 64), filter: filter, includeMetadata: false, includeVector: false)
    }

    /// With the builder paused every record is pending: a search is exactly a Flat search over the same records
    /// (ids and distances), for each metric, single and batched, with and without a filter.
    func testSearchOverPendingRecordsIsExact() throws {
        for metric in [Metric.l2, .cosine, .dot] {
            let data = Self.vectors(count: 600, dim: 16, seed: 11)
            let queries = Self.vectors(count: 20, dim: 16, seed: 12)
            let hnsw = try open(newDir(), metric: metric)
            let flat = try open(newDir(), index: .flat, metric: metric)
            defer { hnsw.close(); flat.close() }
            hnsw.setLinkingPaused(true)
            for engine in [hnsw, flat] {
                _ = try engine.upsert(data.enumerated().map { i, v in
                    VectorRecord(id: UInt64(i), vector: v, metadata: try! Metadata(json: Array(#"{"odd":\#(i % 2 == 1)}"#.utf8)))
                })
            }
            XCTAssertEqual(hnsw.pendingCount, 600)
            XCTAssertEqual(hnsw.count, 600)
            let odd = Filter.condition(FieldPath(["odd"]), .eq(.bool(true)))
            for q in queries {
                for filter in [nil, odd] {
                    let a = try search(hnsw, q, k: 10, filter: filter), b = try search(flat, q, k: 10, filter: filter)
                    XCTAssertEqual(a.map(\.id), b.map(\.id), "\(metric)")
                    XCTAssertEqual(a.map(\.distance), b.map(\.distance), "\(metric)")
                }
            }
            let a = try hnsw.search(batch: queries, k: 5, params: SearchParams(), filter: nil, includeMetadata: false, includeVector: false)
            let b = try flat.search(batch: queries, k: 5, params: SearchParams(), filter: nil, includeMetadata: false, includeVector: false)
            XCTAssertEqual(a.map { $0.map(\.id) }, b.map { $0.map(\.id) }, "\(metric)")
        }
    }

    /// Half linked, half pending, with replacements and deletes on both sides: get, count and search show the
    /// newest version of each id only; after linking the graph returns the same as before.
    func testSupersededAndDeletedVersionsAreNeverVisible() throws {
        let dim = 16
        let engine = try open(newDir(), dimension: dim)
        defer { engine.close() }
        let first = Self.vectors(count: 400, dim: dim, seed: 21)
        _ = try engine.upsert(first.enumerated().map { VectorRecord(id: UInt64($0), vector: $1) })
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        engine.setLinkingPaused(true)
        // Replace ids 0..<100 with far-away vectors, delete 100..<150, add 400..<500.
        let far = (0..<100).map { i in [Float](repeating: 50 + Float(i), count: dim) }
        _ = try engine.upsert(far.enumerated().map { VectorRecord(id: UInt64($0), vector: $1) })
        for id in 100..<150 { _ = try engine.delete(UInt64(id)) }
        let added = Self.vectors(count: 100, dim: dim, seed: 22)
        _ = try engine.upsert(added.enumerated().map { VectorRecord(id: UInt64(400 + $0), vector: $1) })
        XCTAssertEqual(engine.count, 450)
        XCTAssertGreaterThan(engine.pendingCount, 0)

        func check(_ stage: String) throws {
            XCTAssertEqual(engine.count, 450, stage)
            for id in 0..<100 { XCTAssertEqual(try engine.get(UInt64(id))?.vector, far[id], stage) }
            for id in 100..<150 { XCTAssertNil(try engine.get(UInt64(id)), stage) }
            for id in 400..<500 { XCTAssertEqual(try engine.get(UInt64(id))?.vector, added[id - 400], stage) }
            // Querying at an old vector of a replaced id must not return that id (its new vector is far away),
            // nor any deleted id.
            for id in stride(from: 0, to: 150, by: 7) {
                let hits = try search(engine, first[id], k: 10)
                XCTAssertFalse(hits.contains { $0.id == UInt64(id) }, "\(stage): old version of \(id) returned")
                XCTAssertFalse(hits.contains { (100..<150).contains($0.id) }, "\(stage): deleted id returned")
                XCTAssertEqual(hits.count, 10, stage)
            }
            // A pending replacement is found exactly.
            XCTAssertEqual(try search(engine, far[42], k: 1).first?.id, 42, stage)
        }
        try check("pending")
        engine.setLinkingPaused(false)
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        try check("linked")
    }

    /// Writers, searchers and the builder at once: every search answer holds only ids that exist in some version,
    /// never the same id twice, and a batch is seen all or nothing (its records share a tag in metadata; a
    /// search whose filter is that tag sees either none of the batch or all of it).
    func testBatchesBecomeVisibleWhole() throws {
        let dim = 16, batches = 60, perBatch = 20
        let engine = try open(newDir(), dimension: dim)
        defer { engine.close() }
        let data = Self.vectors(count: batches * perBatch, dim: dim, seed: 31)
        let stop = Atomic(false)
        let failures = PlainMutex<[String]>([])
        let searcher = Thread {
            var q = 0
            while !stop.load(ordering: .relaxed) {
                let b = q % batches
                let filter = Filter.condition(FieldPath(["batch"]), .eq(.string("b\(b)")))
                if let hits = try? engine.search(data[(q * 13) % data.count], k: perBatch + 5, params: SearchParams(efSearch: 64),
                                                 filter: filter, includeMetadata: false, includeVector: false) {
                    if hits.count != 0 && hits.count != perBatch {
                        failures.withLock { $0.append("batch \(b): \(hits.count) of \(perBatch) visible") }
                    }
                    if Set(hits.map(\.id)).count != hits.count { failures.withLock { $0.append("duplicate ids") } }
                }
                q += 1
            }
        }
        searcher.start()
        for b in 0..<batches {
            let records = (0..<perBatch).map { j -> VectorRecord in
                let i = b * perBatch + j
                return VectorRecord(id: UInt64(i), vector: data[i], metadata: try! Metadata(json: Array(#"{"batch":"b\#(b)"}"#.utf8)))
            }
            _ = try engine.upsert(records)
            usleep(2000)
        }
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        stop.store(true, ordering: .relaxed)
        while !searcher.isFinished { usleep(1000) }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(engine.count, batches * perBatch)
    }

    /// While the builder links replacements and deletes, a searcher queries at the old vectors: the old version of a
    /// replaced id (at distance 0 from its old vector) and a deleted id must never come back, at any moment.
    func testNoSupersededVersionWhileTheBuilderLinks() throws {
        let dim = 16, n = 800
        let engine = try open(newDir(), dimension: dim)
        defer { engine.close() }
        let old = Self.vectors(count: n, dim: dim, seed: 71)
        _ = try engine.upsert(old.enumerated().map { VectorRecord(id: UInt64($0), vector: $1) })
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        let stop = Atomic(false)
        let failures = PlainMutex<[String]>([])
        let searches = Atomic(0)
        // Ids below n/2 get replaced (far away), ids from n/2 get deleted; the searcher probes both halves.
        let searcher = Thread {
            var q = 0
            while !stop.load(ordering: .relaxed) {
                let i = (q * 37) % n
                // Read before the search: a write acknowledged before it started must be what it sees.
                let changedBefore = self.isReplacedOrDeleted(i)
                if let hits = try? engine.search(old[i], k: 3, params: SearchParams(efSearch: 32), filter: nil,
                                                 includeMetadata: false, includeVector: true) {
                    for hit in hits where hit.id == UInt64(i) {
                        if changedBefore && (hit.vector == old[i] || i >= n / 2) {
                            failures.withLock { $0.append("id \(i) returned in its old version (or deleted) after the write was acknowledged") }
                        }
                    }
                }
                searches.wrappingAdd(1, ordering: .relaxed)
                q += 1
            }
        }
        searcher.start()
        for start in stride(from: 0, to: n / 2, by: 20) {
            let records = (start..<(start + 20)).map { i in
                VectorRecord(id: UInt64(i), vector: [Float](repeating: 100 + Float(i), count: dim))
            }
            _ = try engine.upsert(records)
            acknowledged.withLock { $0.formUnion(start..<(start + 20)) }
            for i in (n / 2 + start)..<(n / 2 + start + 20) {
                _ = try engine.delete(UInt64(i))
                acknowledged.withLock { _ = $0.insert(i) }
            }
        }
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        usleep(20_000)
        stop.store(true, ordering: .relaxed)
        while !searcher.isFinished { usleep(1000) }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertGreaterThan(searches.load(ordering: .relaxed), 100)
        XCTAssertEqual(engine.count, n / 2)
    }

    /// Ids whose replacement or delete has been acknowledged (by the test's writer).
    let acknowledged = PlainMutex<Set<Int>>([])

    func isReplacedOrDeleted(_ i: Int) -> Bool {
        acknowledged.withLock { $0.contains(i) }
    }

    /// Deletes past the consolidation threshold: the builder consolidates (on a copy, outside the write lock) and
    /// the graph's tombstones become free slots; no deleted record comes back, the rest are all found.
    func testTheBuilderConsolidatesDeletes() throws {
        let dim = 16, n = 600
        let engine = try open(newDir(), dimension: dim)
        defer { engine.close() }
        let data = Self.vectors(count: n, dim: dim, seed: 81)
        _ = try engine.upsert(data.enumerated().map { VectorRecord(id: UInt64($0), vector: $1) })
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        for id in 0..<200 { _ = try engine.delete(UInt64(id)) }
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        let graph = Dictionary(uniqueKeysWithValues: engine.stats().indexParameters)
        XCTAssertEqual(graph["slots"], "600")
        XCTAssertLessThan(Int(graph["tombstones"]!)!, 60, "consolidation ran: \(graph)")
        XCTAssertGreaterThan(Int(graph["free_slots"]!)!, 140, "\(graph)")
        XCTAssertEqual(engine.count, 400)
        for id in stride(from: 0, to: n, by: 7) {
            let hits = try search(engine, data[id], k: 5)
            XCTAssertFalse(hits.contains { $0.id < 200 }, "a deleted id came back")
            if id >= 200 { XCTAssertEqual(hits.first?.id, UInt64(id)) }
        }
    }

    /// The bound: with the builder paused a write that would pass `indexMaxPending` waits, then is refused with
    /// `.overloaded` and changes nothing; once the builder runs again writes go through.
    func testFullTailRefusesWritesAfterTheWait() throws {
        let engine = try open(newDir()) {
            $0.indexMaxPending = 50
            $0.indexPendingWaitSeconds = 0.2
        }
        defer { engine.close() }
        engine.setLinkingPaused(true)
        let data = Self.vectors(count: 80, dim: 16, seed: 41)
        _ = try engine.upsert(Self.records(data, 0..<50))
        let lsn = engine.lastLSN
        let started = Date()
        XCTAssertThrowsError(try engine.upsert([VectorRecord(id: 60, vector: data[60])])) { error in
            guard case EngineError.overloaded(_, let retryAfter) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(retryAfter, 1)
        }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.2)
        XCTAssertThrowsError(try engine.delete(3))
        XCTAssertEqual(engine.lastLSN, lsn, "a refused write logs nothing")
        XCTAssertNil(try engine.get(60))
        XCTAssertEqual(engine.count, 50)
        XCTAssertNotNil(try engine.get(3))
        engine.setLinkingPaused(false)
        _ = try engine.upsert(Self.records(data, 50..<80))
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        XCTAssertEqual(engine.count, 80)
    }

    /// A checkpoint taken while records are pending keeps them (the snapshot's pending section): after a restart
    /// they are searchable at once, nothing is replayed, and they get linked.
    func testCheckpointWithPendingRecordsRestoresThem() throws {
        let dir = newDir()
        let data = Self.vectors(count: 300, dim: 16, seed: 51)
        do {
            let engine = try open(dir)
            _ = try engine.upsert(Self.records(data, 0..<200))
            XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
            engine.setLinkingPaused(true)
            _ = try engine.upsert(Self.records(data, 200..<300))
            _ = try engine.upsert([VectorRecord(id: 5, vector: data[299])])
            _ = try engine.delete(6)
            XCTAssertEqual(engine.pendingCount, 102)
            try engine.checkpoint()
            engine.close()  // the shutdown checkpoint also runs; pending stays pending while paused
        }
        let engine = try open(dir) { $0.linkingStartsPaused = true }
        defer { engine.close() }
        XCTAssertEqual(engine.metrics.recoveryFramesReplayed.current, 0)
        XCTAssertEqual(engine.pendingCount, 102)
        XCTAssertEqual(engine.count, 299)
        XCTAssertEqual(try engine.get(5)?.vector, data[299])
        XCTAssertNil(try engine.get(6))
        XCTAssertEqual(try search(engine, data[250], k: 1).first?.id, 250)
        engine.setLinkingPaused(false)
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        XCTAssertEqual(try search(engine, data[250], k: 1).first?.id, 250)
        XCTAssertEqual(engine.count, 299)
    }

    /// Once the builder has linked everything, the tail holds no memory: the store holds no more than the same
    /// records take where each write is linked before it is acknowledged (same seed, so the same levels and slots).
    /// Arrays' capacities differ a little between the two ways of growing them; a tail that kept its maps would add
    /// 24 bytes a record at least.
    func testALinkedStoreHoldsWhatAStoreLinkedInlineHolds() throws {
        let n = 6000
        let data = Self.vectors(count: n, dim: 16, seed: 91)
        let background = try open(newDir())
        let inline = try open(newDir()) { $0.indexThreads = 0 }
        defer { background.close(); inline.close() }
        // The whole ingest waits in the tail, as when writes outrun the builder.
        background.setLinkingPaused(true)
        for start in stride(from: 0, to: n, by: 500) {
            for engine in [background, inline] { _ = try engine.upsert(Self.records(data, start..<(start + 500))) }
        }
        XCTAssertEqual(background.pendingCount, n)
        let waiting = background.stats().memory
        XCTAssertGreaterThanOrEqual(waiting[.pending], n * 16 * 4, "the tail's vectors are counted as pending")
        XCTAssertEqual(waiting[.vectors], 0)
        background.setLinkingPaused(false)
        XCTAssertTrue(background.waitUntilLinked(seconds: 60))
        let linked = background.stats().memory, reference = inline.stats().memory
        XCTAssertEqual(linked[.vectors], reference[.vectors])
        XCTAssertLessThan(linked[.pending], 1024, "the drained tail starts over empty")
        XCTAssertLessThan(linked[.index], reference[.index] + n * 2, "\(linked[.index]) against \(reference[.index])")
    }

    /// Recovery puts the replayed log into the tail: ready without linking, everything searchable, then linked.
    func testReplayGoesIntoTheTail() throws {
        let dir = newDir()
        let data = Self.vectors(count: 500, dim: 16, seed: 61)
        do {
            let engine = try open(dir)
            engine.setLinkingPaused(true)
            _ = try engine.upsert(Self.records(data, 0..<500))
            _ = try engine.delete(10)
            // No close(): as after a crash, the log holds everything and no checkpoint was written.
            engine.close(checkpoint: false)
        }
        let engine = try open(dir) { $0.linkingStartsPaused = true }
        defer { engine.close() }
        XCTAssertEqual(engine.metrics.recoveryFramesReplayed.current, 501)
        XCTAssertEqual(engine.count, 499)
        XCTAssertEqual(engine.pendingCount, 500)
        XCTAssertNil(try engine.get(10))
        XCTAssertEqual(try search(engine, data[321], k: 1).first?.id, 321)
        engine.setLinkingPaused(false)
        XCTAssertTrue(engine.waitUntilLinked(seconds: 60))
        XCTAssertEqual(try search(engine, data[321], k: 1).first?.id, 321)
        XCTAssertEqual(engine.count, 499)
    }
}
