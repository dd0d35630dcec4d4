import LynxIndex
import LynxSupport
import XCTest

final class FlatIndexTests: XCTestCase {
    /// Compares search results with the Double brute force: the same ids in the same order unless two reference
    /// scores are within float rounding of each other (then only the set of the strictly-better ones is checked).
    func assertMatchesReference(_ index: FlatIndex, _ items: [UInt64: [Float]], query: [Float], k: Int,
                                filter: ((UInt64) -> Bool)? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let got = index.search(query, k: k, filter: filter)
        let ref = Reference.topK(index.metric, query, items.map { ($0.key, $0.value) }, k: k, filter: filter)
        XCTAssertEqual(got.count, ref.count, "count", file: file, line: line)
        for (i, (g, r)) in zip(got, ref).enumerated() {
            let expected: Double
            switch index.metric {
            case .l2: expected = r.1.squareRoot()
            default: expected = r.1
            }
            XCTAssertEqual(Double(g.distance), expected, accuracy: 1e-4 * max(1, abs(expected)), "distance \(i)",
                           file: file, line: line)
            if g.id != r.0 {
                // allowed only for a near tie
                let gs = Reference.score(index.metric, query, items[g.id]!)
                XCTAssertEqual(gs, r.1, accuracy: 1e-5 * max(1, abs(r.1)), "rank \(i): \(g.id) vs \(r.0)",
                               file: file, line: line)
            }
            if let f = filter { XCTAssertTrue(f(g.id), file: file, line: line) }
        }
    }

    func testSearchMatchesBruteForceAllMetrics() {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 10 + UInt64(metricIndex(metric)))
            let dim = 37
            var index = FlatIndex(dimension: dim, metric: metric)
            var items: [UInt64: [Float]] = [:]
            for _ in 0..<600 {
                let id = UInt64.random(in: 0..<5000, using: &rng)
                let v = rng.vector(dim)
                index.upsert(id: id, vector: v)  // some ids repeat → replace
                items[id] = v
            }
            XCTAssertEqual(index.count, items.count)
            // remove a third
            for id in items.keys.sorted().prefix(items.count / 3) {
                XCTAssertTrue(index.remove(id))
                items[id] = nil
                XCTAssertFalse(index.remove(id))
            }
            XCTAssertEqual(index.count, items.count)
            for (id, v) in items { XCTAssertEqual(index.vector(id), v) }
            for _ in 0..<20 {
                let q = rng.vector(dim)
                assertMatchesReference(index, items, query: q, k: 10)
                assertMatchesReference(index, items, query: q, k: 1)
                assertMatchesReference(index, items, query: q, k: 1000)  // more than count
                assertMatchesReference(index, items, query: q, k: 10, filter: { $0 % 3 == 0 })
                assertMatchesReference(index, items, query: q, k: 10, filter: { $0 % 97 == 1 })  // rare
                XCTAssertEqual(index.search(q, k: 10, filter: { _ in false }), [])
            }
        }
    }

    func metricIndex(_ m: Metric) -> Int { Metric.allCases.firstIndex(of: m)! }

    func testTiesBrokenByLowerId() {
        var index = FlatIndex(dimension: 4, metric: .l2)
        for id: UInt64 in [9, 3, 7, 1, 5] { index.upsert(id: id, vector: [1, 2, 3, 4]) }
        index.upsert(id: 100, vector: [0, 0, 0, 0])
        let res = index.search([1, 2, 3, 4], k: 3)
        XCTAssertEqual(res.map(\.id), [1, 3, 5])
        XCTAssertEqual(res.map(\.distance), [0, 0, 0])
    }

    func testUpsertReplacesAndVectorIsBitExact() {
        var index = FlatIndex(dimension: 3, metric: .cosine)
        let v: [Float] = [0.1, Float("1e-40")!, -1e18]  // a subnormal and a large one, within what the engine accepts
        index.upsert(id: 42, vector: v)
        XCTAssertEqual(index.vector(42)!.map(\.bitPattern), v.map(\.bitPattern))
        index.upsert(id: 42, vector: [1, 0, 0])
        XCTAssertEqual(index.count, 1)
        XCTAssertEqual(index.vector(42), [1, 0, 0])
        let hit = index.search([2, 0, 0], k: 1)
        XCTAssertEqual(hit.map(\.id), [42])
        XCTAssertEqual(hit[0].distance, 0, accuracy: 1e-6)
        let orth = index.search([0, 5, 0], k: 1)
        XCTAssertEqual(orth[0].distance, 1, accuracy: 1e-6)
        XCTAssertEqual(index.search([0, 0, 0], k: 1), [])  // invalid query under cosine
        XCTAssertNil(index.vector(7))
        XCTAssertFalse(index.contains(7))
        XCTAssertTrue(index.contains(42))
    }

    func testDotDistanceIsNegatedInnerProduct() {
        var index = FlatIndex(dimension: 2, metric: .dot)
        index.upsert(id: 1, vector: [1, 1])
        index.upsert(id: 2, vector: [3, 0])
        let res = index.search([1, 0], k: 2)
        XCTAssertEqual(res, [SearchHit(id: 2, distance: -3), SearchHit(id: 1, distance: -1)])
    }

    func testSerializeRoundTripGivesIdenticalResults() throws {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 77)
            var index = FlatIndex(dimension: 19, metric: metric)
            for i in 0..<300 { index.upsert(id: UInt64(i) * 3, vector: rng.vector(19)) }
            for i in 0..<50 { index.remove(UInt64(i) * 6) }
            let bytes = index.serializedBytes()
            var r = BinaryReader(bytes)
            let back = try FlatIndex(from: &r)
            XCTAssertTrue(r.isAtEnd)
            XCTAssertEqual(back.count, index.count)
            XCTAssertEqual(back.metric, metric)
            XCTAssertEqual(back.dimension, 19)
            for _ in 0..<10 {
                let q = rng.vector(19)
                XCTAssertEqual(back.search(q, k: 7), index.search(q, k: 7))
            }
            var r2 = BinaryReader(bytes)
            let any = try IndexKind.decode(from: &r2)
            XCTAssertTrue(any is FlatIndex)
            XCTAssertEqual(any.count, index.count)
            // every truncation fails cleanly
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 50)) {
                var rt = BinaryReader(Array(bytes.prefix(cut)))
                XCTAssertThrowsError(try FlatIndex(from: &rt))
            }
            var bad = bytes
            bad[0] ^= 0xFF
            var rb = BinaryReader(bad)
            XCTAssertThrowsError(try IndexKind.decode(from: &rb))
        }
    }

    func testCopyIsSnapshot() {
        var index = FlatIndex(dimension: 2, metric: .l2)
        index.upsert(id: 1, vector: [0, 0])
        let snap = index
        index.upsert(id: 2, vector: [1, 1])
        index.upsert(id: 1, vector: [5, 5])
        XCTAssertEqual(snap.count, 1)
        XCTAssertEqual(snap.vector(1), [0, 0])
        XCTAssertEqual(index.count, 2)
    }

    func testMemoryAndParameters() {
        var index = FlatIndex(dimension: 8, metric: .l2)
        for i in 0..<100 { index.upsert(id: UInt64(i), vector: [Float](repeating: Float(i), count: 8)) }
        XCTAssertGreaterThanOrEqual(index.memory.vectorBytes, 100 * 8 * 4)
        XCTAssertGreaterThanOrEqual(index.memory.indexBytes, 100 * 8)
        XCTAssertTrue(index.parameters.isEmpty)
    }

    func testDevRecallIsExact() throws {
        let dev = try DevData.load()
        for metric in [Metric.l2, .cosine] {
            var index = FlatIndex(dimension: dev.dim, metric: metric)
            index.reserveCapacity(dev.n)
            dev.base.withUnsafeBufferPointer { b in
                for i in 0..<dev.n {
                    index.upsert(id: UInt64(i), vector: UnsafeBufferPointer(rebasing: b[(i * dev.dim)..<((i + 1) * dev.dim)]))
                }
            }
            let recall = dev.recall(index, metric: metric)
            print("flat \(metric) recall@10 = \(recall)")
            XCTAssertEqual(recall, 1.0, "\(metric)")
        }
    }
}
