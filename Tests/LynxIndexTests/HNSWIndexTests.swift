import LynxIndex
import LynxSupport
import XCTest

final class HNSWIndexTests: XCTestCase {
    /// Clustered random data (so the graph has structure, like real embeddings).
    func clustered(_ rng: inout TestRNG, n: Int, dim: Int, clusters: Int = 20) -> [[Float]] {
        let centers = (0..<clusters).map { _ in rng.vector(dim) }
        return (0..<n).map { _ in
            let c = centers[Int.random(in: 0..<clusters, using: &rng)]
            return c.map { $0 + 0.3 * rng.float() }
        }
    }

    func recall(_ index: HNSWIndex, _ items: [(UInt64, [Float])], queries: [[Float]], k: Int,
                ef: Int? = nil, filter: ((UInt64) -> Bool)? = nil) -> Double {
        // the truth comes from FlatIndex (itself tested against a Double brute force)
        var flat = FlatIndex(dimension: index.dimension, metric: index.metric)
        for (id, v) in items { flat.upsert(id: id, vector: v) }
        var hit = 0, total = 0
        for q in queries {
            let truth = Set(flat.search(q, k: k, filter: filter).map(\.id))
            let got = index.search(q, k: k, params: SearchParams(efSearch: ef), filter: filter)
            XCTAssertEqual(got.count, truth.count)
            if let f = filter { XCTAssertTrue(got.allSatisfy { f($0.id) }) }
            hit += got.filter { truth.contains($0.id) }.count
            total += truth.count
        }
        return Double(hit) / Double(max(total, 1))
    }

    func testSmallRandomAgainstBruteForceAllMetrics() {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 5)
            let dim = 24
            let data = clustered(&rng, n: 2000, dim: dim)
            var index = HNSWIndex(dimension: dim, metric: metric, m: 12, efConstruction: 100, efSearch: 64, seed: 1)
            for (i, v) in data.enumerated() { index.upsert(id: UInt64(i) * 10, vector: v) }
            XCTAssertEqual(index.count, 2000)
            let items = data.enumerated().map { (UInt64($0.offset) * 10, $0.element) }
            let queries = (0..<50).map { _ in clustered(&rng, n: 1, dim: dim)[0] }
            let r = recall(index, items, queries: queries, k: 10, ef: 100)
            print("hnsw small \(metric) recall@10 = \(r)")
            XCTAssertGreaterThan(r, metric == .dot ? 0.85 : 0.95, "\(metric)")
            // distances are the user-facing ones and sorted
            let res = index.search(queries[0], k: 10)
            XCTAssertEqual(res.map(\.distance), res.map(\.distance).sorted())
            let ref = Reference.score(metric, queries[0], data[Int(res[0].id / 10)])
            let expect = metric == .l2 ? ref.squareRoot() : ref
            XCTAssertEqual(Double(res[0].distance), expect, accuracy: 1e-4 * max(1, abs(expect)))
        }
    }

    func testFilteredSearchReturnsKMatches() {
        var rng = TestRNG(seed: 6)
        let dim = 16
        let data = clustered(&rng, n: 3000, dim: dim)
        var index = HNSWIndex(dimension: dim, metric: .l2, seed: 2)
        for (i, v) in data.enumerated() { index.upsert(id: UInt64(i), vector: v) }
        let items = data.enumerated().map { (UInt64($0.offset), $0.element) }
        let queries = (0..<30).map { _ in rng.vector(dim) }
        let r1 = recall(index, items, queries: queries, k: 10, ef: 64, filter: { $0 % 2 == 0 })
        let r2 = recall(index, items, queries: queries, k: 10, ef: 64, filter: { $0 % 50 == 7 })  // 2% pass
        print("hnsw filtered recall: 50% = \(r1), 2% = \(r2)")
        XCTAssertGreaterThan(r1, 0.9)
        XCTAssertGreaterThan(r2, 0.9)
        XCTAssertEqual(index.search(queries[0], k: 5, filter: { $0 == 1234 }).map(\.id), [1234])
        XCTAssertEqual(index.search(queries[0], k: 5, filter: { _ in false }), [])
    }

    func testDeleteUpsertAndEdgeCases() {
        var index = HNSWIndex(dimension: 3, metric: .cosine, m: 4, efConstruction: 16, seed: 3)
        XCTAssertEqual(index.search([1, 0, 0], k: 3), [])
        index.upsert(id: 1, vector: [1, 0, 0])
        XCTAssertEqual(index.search([1, 0, 0], k: 3).map(\.id), [1])
        XCTAssertTrue(index.remove(1))
        XCTAssertFalse(index.remove(1))
        XCTAssertEqual(index.count, 0)
        XCTAssertEqual(index.search([1, 0, 0], k: 3), [])
        XCTAssertEqual(index.tombstoneCount, 1)
        index.consolidate()
        XCTAssertEqual(index.tombstoneCount, 0)
        XCTAssertEqual(index.freeSlotCount, 1)
        index.upsert(id: 2, vector: [0, 1, 0])  // reuses the freed slot
        XCTAssertEqual(index.slotCount, 1)
        XCTAssertEqual(index.freeSlotCount, 0)
        XCTAssertEqual(index.search([1, 0, 0], k: 3).map(\.id), [2])
        XCTAssertNil(index.vector(1))
        XCTAssertEqual(index.vector(2), [0, 1, 0])
        for i in 3..<60 { index.upsert(id: UInt64(i), vector: [Float(i), Float(i % 7), 1]) }
        index.upsert(id: 30, vector: [0, 0, 5])  // replace in place
        XCTAssertEqual(index.vector(30), [0, 0, 5])
        XCTAssertEqual(index.search([0, 0, 1], k: 1).map(\.id), [30])
        XCTAssertEqual(index.count, 58)
        XCTAssertEqual(index.search([0, 0, 1], k: 1000).count, 58)
        for i in 3..<60 where i % 2 == 0 { index.remove(UInt64(i)) }
        let all = index.search([1, 1, 1], k: 1000, params: SearchParams(efSearch: 1000))
        XCTAssertEqual(Set(all.map(\.id)), Set([2] + (3..<60).filter { $0 % 2 == 1 }.map { UInt64($0) }))
        XCTAssertEqual(index.search([0, 0, 0], k: 3), [])  // zero query under cosine
        XCTAssertEqual(index.parameters.map(\.0), ["m", "ef_construction", "ef_search", "slots", "tombstones", "free_slots"])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: index.parameters)["slots"], String(index.slotCount))
        XCTAssertGreaterThan(index.memory.indexBytes, 0)
    }

    func testDeleteEverythingThenReuseAndRoundTrip() throws {
        var rng = TestRNG(seed: 21)
        let dim = 8
        var index = HNSWIndex(dimension: dim, metric: .l2, m: 4, efConstruction: 32, seed: 7)
        for i in 0..<300 { index.upsert(id: UInt64(i), vector: rng.vector(dim)) }
        func roundTrip(_ idx: HNSWIndex) throws -> HNSWIndex {
            var r = BinaryReader(idx.serializedBytes())
            let back = try HNSWIndex(from: &r)
            XCTAssertTrue(r.isAtEnd)
            XCTAssertEqual(back.serializedBytes(), idx.serializedBytes())
            return back
        }
        var order = Array(0..<300)
        order.shuffle(using: &rng)
        for (n, i) in order.enumerated() {
            XCTAssertTrue(index.remove(UInt64(i)))
            if n % 50 == 0 {
                let back = try roundTrip(index)
                let q = rng.vector(dim)
                let res = index.search(q, k: 10, params: SearchParams(efSearch: 300))
                XCTAssertEqual(back.search(q, k: 10, params: SearchParams(efSearch: 300)), res)
                // nothing removed comes back, and the exact top 10 of what is left is found
                let alive = Set(order[(n + 1)...].map { UInt64($0) })
                XCTAssertTrue(res.allSatisfy { alive.contains($0.id) })
                XCTAssertEqual(res.count, min(10, alive.count))
            }
        }
        XCTAssertEqual(index.count, 0)
        XCTAssertEqual(index.search(rng.vector(dim), k: 5), [])
        index.consolidate()
        XCTAssertEqual(index.tombstoneCount, 0)
        XCTAssertEqual(index.freeSlotCount, 300)
        _ = try roundTrip(index)
        var items: [(UInt64, [Float])] = []
        for i in 0..<200 {
            let v = rng.vector(dim)
            index.upsert(id: 1000 + UInt64(i), vector: v)
            items.append((1000 + UInt64(i), v))
        }
        XCTAssertEqual(index.slotCount, 300)
        XCTAssertEqual(index.freeSlotCount, 100)
        let back = try roundTrip(index)
        var flat = FlatIndex(dimension: dim, metric: .l2)
        for (id, v) in items { flat.upsert(id: id, vector: v) }
        var hit = 0
        for _ in 0..<30 {
            let q = rng.vector(dim)
            let truth = Set(flat.search(q, k: 10).map(\.id))
            let got = back.search(q, k: 10, params: SearchParams(efSearch: 100))
            hit += got.filter { truth.contains($0.id) }.count
        }
        XCTAssertGreaterThan(Double(hit) / 300, 0.95)
    }

    func testTiesBrokenByLowerId() {
        var index = HNSWIndex(dimension: 2, metric: .l2, seed: 4)
        for id: UInt64 in [50, 10, 40, 20, 30] { index.upsert(id: id, vector: [1, 1]) }
        index.upsert(id: 1, vector: [9, 9])
        XCTAssertEqual(index.search([1, 1], k: 3).map(\.id), [10, 20, 30])
    }

    func testSerializeRoundTripIdenticalResults() throws {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 8)
            let dim = 20
            var index = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 50, seed: 9)
            for (i, v) in clustered(&rng, n: 1500, dim: dim).enumerated() { index.upsert(id: UInt64(i), vector: v) }
            for i in stride(from: 0, to: 1500, by: 7) { index.remove(UInt64(i)) }
            let bytes = index.serializedBytes()
            var r = BinaryReader(bytes)
            var back = try HNSWIndex(from: &r)
            XCTAssertTrue(r.isAtEnd)
            XCTAssertEqual(back.count, index.count)
            XCTAssertEqual(back.tombstoneCount, index.tombstoneCount)
            let queries = (0..<30).map { _ in rng.vector(dim) }
            for q in queries {
                XCTAssertEqual(back.search(q, k: 10), index.search(q, k: 10))
                XCTAssertEqual(back.search(q, k: 5, filter: { $0 % 3 == 0 }), index.search(q, k: 5, filter: { $0 % 3 == 0 }))
            }
            // further writes behave identically too (same free list and generator state)
            let extra = clustered(&rng, n: 100, dim: dim)
            for (i, v) in extra.enumerated() {
                index.upsert(id: 10_000 + UInt64(i), vector: v)
                back.upsert(id: 10_000 + UInt64(i), vector: v)
            }
            XCTAssertEqual(back.serializedBytes(), index.serializedBytes())
            var r2 = BinaryReader(bytes)
            XCTAssertTrue(try IndexKind.decode(from: &r2) is HNSWIndex)
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                var rt = BinaryReader(Array(bytes.prefix(cut)))
                XCTAssertThrowsError(try HNSWIndex(from: &rt))
            }
            // a corrupted link is rejected rather than trusted
            var bad = bytes
            let headerBytes = 4 + 4 + 4 + 1 + 4 + 4 + 4 + 1 + 8 + 8 + 4 + 4 + 8 + 8 + 8
            let n = 1500
            let links0Start = headerBytes + n * (8 + 1 + 1 + 4)
            let slot1 = links0Start + 1 * (2 * 8 + 1) * 4  // slot 1 holds id 1, which is live
            XCTAssertGreaterThan(bytes[slot1], 0)  // it has links
            bad[slot1 + 4 + 3] = 0x7F  // high byte of its first link
            var rb = BinaryReader(bad)
            XCTAssertThrowsError(try HNSWIndex(from: &rb))
        }
    }

    func testCopyIsSnapshot() {
        var index = HNSWIndex(dimension: 2, metric: .l2, seed: 1)
        index.upsert(id: 1, vector: [0, 0])
        let snap = index
        index.upsert(id: 2, vector: [1, 1])
        index.remove(1)
        XCTAssertEqual(snap.count, 1)
        XCTAssertEqual(snap.search([0, 0], k: 5).map(\.id), [1])
        XCTAssertEqual(index.search([0, 0], k: 5).map(\.id), [2])
    }

    func testChurnKeepsRecall() {
        // 30% of the ids deleted and re-inserted with new values vs a fresh build of the final contents
        var rng = TestRNG(seed: 12)
        let dim = 32, n = 6000
        let data = clustered(&rng, n: n + n * 3 / 10, dim: dim, clusters: 40)
        var index = HNSWIndex(dimension: dim, metric: .l2, m: 16, efConstruction: 100, seed: 5)
        for i in 0..<n { index.upsert(id: UInt64(i), vector: data[i]) }
        var current = Array(data[0..<n])
        var order = Array(0..<n)
        order.shuffle(using: &rng)
        let churned = order.prefix(n * 3 / 10)
        for i in churned { index.remove(UInt64(i)) }
        for (j, i) in churned.enumerated() {
            current[i] = data[n + j]
            index.upsert(id: UInt64(i), vector: current[i])
        }
        XCTAssertEqual(index.count, n)
        print("churn: slots \(index.slotCount) for \(n) live, tombstones \(index.tombstoneCount), free \(index.freeSlotCount)")
        XCTAssertLessThanOrEqual(index.slotCount, n + index.consolidationThreshold)  // freed slots are reused
        var fresh = HNSWIndex(dimension: dim, metric: .l2, m: 16, efConstruction: 100, seed: 5)
        for i in 0..<n { fresh.upsert(id: UInt64(i), vector: current[i]) }
        let items = current.enumerated().map { (UInt64($0.offset), $0.element) }
        let queries = (0..<100).map { _ in clustered(&rng, n: 1, dim: dim, clusters: 40)[0] }
        let rc = recall(index, items, queries: queries, k: 10, ef: 32)
        let rf = recall(fresh, items, queries: queries, k: 10, ef: 32)
        print("churn: recall after churn = \(rc), fresh build = \(rf)")
        print("churn ef=128: after \(recall(index, items, queries: queries, k: 10, ef: 128)) fresh \(recall(fresh, items, queries: queries, k: 10, ef: 128))")
        XCTAssertGreaterThanOrEqual(rc, rf - 0.02)
        // also: in-place replacement of live ids (no delete)
        for i in order.suffix(n / 10) {
            current[i] = current[i].map { $0 + 0.5 * rng.float() }
            index.upsert(id: UInt64(i), vector: current[i])
        }
        let items2 = current.enumerated().map { (UInt64($0.offset), $0.element) }
        let ru = recall(index, items2, queries: queries, k: 10, ef: 32)
        var fresh2 = HNSWIndex(dimension: dim, metric: .l2, m: 16, efConstruction: 100, seed: 5)
        for i in 0..<n { fresh2.upsert(id: UInt64(i), vector: current[i]) }
        let rf2 = recall(fresh2, items2, queries: queries, k: 10, ef: 32)
        print("churn: recall after 10% in-place updates (moved off-cluster) = \(ru), fresh build = \(rf2)")
        XCTAssertGreaterThanOrEqual(ru, rf2 - 0.06)
    }

    func testDevChurnKeepsRecall() throws {
        // real embeddings: 8,000 vectors; 30% deleted and re-inserted with other vectors of the set, then 10% of the
        // ids upserted in place with new vectors; recall vs a fresh build of the same final contents
        let dev = try DevData.load()
        let n = 8000, dim = dev.dim
        func row(_ i: Int) -> [Float] { Array(dev.baseRow(i)) }
        var rng = TestRNG(seed: 99)
        var order = Array(0..<n)
        order.shuffle(using: &rng)
        let churned = Array(order.prefix(n * 3 / 10)), updated = Array(order.suffix(n / 10))
        var current = (0..<n).map { row($0) }
        for (j, i) in churned.enumerated() { current[i] = row(n + j) }
        var afterUpdates = current
        for (j, i) in updated.enumerated() { afterUpdates[i] = row(n + churned.count + j) }
        let queries = (0..<200).map { dev.query($0) }
        func truth(_ data: [[Float]]) -> [Set<UInt64>] {
            var flat = FlatIndex(dimension: dim, metric: .l2)
            for (i, v) in data.enumerated() { flat.upsert(id: UInt64(i), vector: v) }
            return queries.map { Set(flat.search($0, k: 10).map(\.id)) }
        }
        func recallOf(_ idx: HNSWIndex, _ t: [Set<UInt64>], ef: Int) -> Double {
            var h = 0
            for (qi, q) in queries.enumerated() {
                h += idx.search(q, k: 10, params: SearchParams(efSearch: ef)).filter { t[qi].contains($0.id) }.count
            }
            return Double(h) / Double(10 * queries.count)
        }
        func build(_ data: [[Float]]) -> HNSWIndex {
            var idx = HNSWIndex(dimension: dim, metric: .l2, m: 16, efConstruction: 100, seed: 5)
            for (i, v) in data.enumerated() { idx.upsert(id: UInt64(i), vector: v) }
            return idx
        }
        let t1 = truth(current), t2 = truth(afterUpdates)
        var index = build((0..<n).map { row($0) })
        let clock = ContinuousClock()
        let tChurn = clock.measure {
            for i in churned { index.remove(UInt64(i)) }
            for i in churned { index.upsert(id: UInt64(i), vector: current[i]) }
        }
        let fresh = build(current)
        for ef in [32, 64] {
            let rc = recallOf(index, t1, ef: ef), rf = recallOf(fresh, t1, ef: ef)
            print("dev churn 30% (\(tChurn)): ef=\(ef) recall \(rc), fresh build \(rf)")
            XCTAssertGreaterThanOrEqual(rc, rf - 0.02, "ef=\(ef)")
        }
        XCTAssertEqual(index.slotCount, n)  // all freed slots reused
        let tUpd = clock.measure { for i in updated { index.upsert(id: UInt64(i), vector: afterUpdates[i]) } }
        let fresh2 = build(afterUpdates)
        for ef in [32, 64] {
            let ru = recallOf(index, t2, ef: ef), rf = recallOf(fresh2, t2, ef: ef)
            print("dev in-place updates 10% (\(tUpd)): ef=\(ef) recall \(ru), fresh build \(rf)")
            XCTAssertGreaterThanOrEqual(ru, rf - 0.02, "ef=\(ef)")
        }
        for (i, v) in afterUpdates.enumerated() where i % 97 == 0 { XCTAssertEqual(index.vector(UInt64(i)), v) }
    }

    func testDevRecall() throws {
        let dev = try DevData.load()
        for metric in [Metric.l2, .cosine] {
            var index = HNSWIndex(dimension: dev.dim, metric: metric, m: 16, efConstruction: 200, efSearch: 64, seed: 42)
            index.reserveCapacity(dev.n)
            let clock = ContinuousClock()
            let t = clock.measure {
                dev.base.withUnsafeBufferPointer { b in
                    for i in 0..<dev.n {
                        index.upsert(id: UInt64(i), vector: UnsafeBufferPointer(rebasing: b[(i * dev.dim)..<((i + 1) * dev.dim)]))
                    }
                }
            }
            let r128 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 128))
            let r64 = dev.recall(index, metric: metric)
            print("hnsw dev \(metric): build \(t), recall@10 ef=128 \(r128), ef=64 \(r64)")
            XCTAssertGreaterThanOrEqual(r128, 0.97, "\(metric)")
        }
    }
}
