import LynxIndex
import XCTest

/// `FlatIndex.search(batch:...)` must return, for every query, exactly what `search` returns: same ids, bit-identical
/// distances, same order. Sizes are chosen off the kernel's blocks (4 queries × 3 rows, 64-query blocks, tiles,
/// 1,024-row chunks) and dimensions off its 8-float steps.
final class FlatBatchSearchTests: XCTestCase {
    func makeIndex(_ metric: Metric, dim: Int, rows: Int, seed: UInt64, removeEvery: Int = 0) -> FlatIndex {
        var rng = TestRNG(seed: seed)
        var index = FlatIndex(dimension: dim, metric: metric)
        for i in 0..<rows { index.upsert(id: UInt64(i * 3 + 7), vector: rng.vector(dim)) }
        if removeEvery > 0 {  // swap-removes move rows around: holes are refilled from the end
            for i in stride(from: 0, to: rows, by: removeEvery) { XCTAssertTrue(index.remove(UInt64(i * 3 + 7))) }
        }
        return index
    }

    /// Batch answers equal the single-query answers; returns how many queries the batch rescanned.
    @discardableResult
    func assertBatchEqualsSingle(_ index: FlatIndex, _ queries: [Float], k: Int, filter: ((UInt64) -> Bool)? = nil,
                                 file: StaticString = #filePath, line: UInt = #line) -> Int {
        let dim = index.dimension, count = queries.count / dim
        let result = queries.withUnsafeBufferPointer { index.blockedSearch($0, count: count, k: k, filter: filter) }
        XCTAssertEqual(result.hits.count, count, file: file, line: line)
        for i in 0..<count {
            let single = index.search(Array(queries[(i * dim)..<((i + 1) * dim)]), k: k, filter: filter)
            XCTAssertEqual(result.hits[i], single, "query \(i) of \(count), k \(k)", file: file, line: line)
        }
        return result.rescans
    }

    func testBatchEqualsSingleAcrossShapes() {
        for metric in Metric.allCases {
            for (dim, rows) in [(37, 1_500), (8, 700), (3, 50), (64, 2_100), (385, 400)] {
                var rng = TestRNG(seed: UInt64(dim * 31 + rows))
                let index = makeIndex(metric, dim: dim, rows: rows, seed: UInt64(dim + rows), removeEvery: 7)
                for count in [2, 3, 5, 67] {
                    let queries = (0..<count).flatMap { _ in rng.vector(dim) }
                    for k in [1, 10, 2_000] {  // 2,000: more than the rows
                        assertBatchEqualsSingle(index, queries, k: k)
                    }
                    assertBatchEqualsSingle(index, queries, k: 10, filter: { $0 % 3 == 1 })
                    assertBatchEqualsSingle(index, queries, k: 10, filter: { $0 % 97 == 0 })  // rare
                    let none = queries.withUnsafeBufferPointer {
                        index.search(batch: $0, count: count, k: 10, params: SearchParams(), filter: { _ in false })
                    }
                    XCTAssertEqual(none, Array(repeating: [], count: count))
                }
            }
        }
    }

    func testFilterIsAskedAtMostOncePerRow() {
        let index = makeIndex(.l2, dim: 16, rows: 3_000, seed: 5)
        var rng = TestRNG(seed: 6)
        let queries = (0..<40).flatMap { _ in rng.vector(16) }
        var asked: [UInt64: Int] = [:]
        _ = index.search(batch: queries, k: 10, filter: { asked[$0, default: 0] += 1; return $0 % 2 == 0 })
        XCTAssertLessThanOrEqual(asked.values.max() ?? 0, 1)
        XCTAssertLessThan(asked.count, 3_000, "the filter should be asked only for rows that could enter a top k")
    }

    func testTiesGoToTheLowerIdAsInSingleSearch() {
        // Small integer vectors: many exactly equal distances, including at the candidate boundary.
        for metric in Metric.allCases {
            var index = FlatIndex(dimension: 12, metric: metric)
            var rng = TestRNG(seed: 9)
            for i in 0..<2_000 {
                index.upsert(id: UInt64(5_000 - i), vector: (0..<12).map { _ in Float(Int.random(in: 0...2, using: &rng)) + 1 })
            }
            let queries = (0..<30).flatMap { _ in (0..<12).map { _ in Float(Int.random(in: 0...2, using: &rng)) + 1 } }
            let rescans = assertBatchEqualsSingle(index, queries, k: 10)
            print("ties \(metric): \(rescans) of 30 queries rescanned")
        }
    }

    func testHugeVectorsAreRescannedAndStillExact() {
        var index = FlatIndex(dimension: 40, metric: .l2)
        var rng = TestRNG(seed: 11)
        for i in 0..<300 { index.upsert(id: UInt64(i), vector: rng.vector(40).map { $0 * 1e18 }) }
        let queries = (0..<6).flatMap { _ in rng.vector(40).map { $0 * 1e18 } }
        XCTAssertEqual(assertBatchEqualsSingle(index, queries, k: 5), 6)
    }

    func testEmptyIndexAndEmptyBatch() {
        let index = FlatIndex(dimension: 4, metric: .cosine)
        XCTAssertEqual(index.search(batch: [Float](repeating: 1, count: 8), k: 3), [[], []])
        XCTAssertEqual(makeIndex(.l2, dim: 4, rows: 10, seed: 1).search(batch: [], k: 3), [])
    }

    func testDefaultBatchLoopsOverSearchForHNSWAndIVF() {
        var rng = TestRNG(seed: 21)
        var hnsw = HNSWIndex(dimension: 24, metric: .cosine, m: 8, efConstruction: 50, seed: 3)
        var ivf = IVFIndex(dimension: 24, metric: .l2, nClusters: 6)
        for i in 0..<500 {
            let v = rng.vector(24)
            hnsw.upsert(id: UInt64(i), vector: v)
            ivf.upsert(id: UInt64(i), vector: v)
        }
        let queries = (0..<9).flatMap { _ in rng.vector(24) }
        for index in [hnsw as any VectorIndex, ivf] {
            let batch = index.search(batch: queries, k: 7, params: SearchParams(efSearch: 40, nProbe: 3), filter: { $0 % 2 == 0 })
            for i in 0..<9 {
                XCTAssertEqual(batch[i], index.search(Array(queries[(i * 24)..<((i + 1) * 24)]), k: 7,
                                                      params: SearchParams(efSearch: 40, nProbe: 3), filter: { $0 % 2 == 0 }))
            }
        }
    }

    func testDevBatchRecallIsExact() throws {
        let dev = try DevData.load()
        for metric in [Metric.l2, .cosine] {
            var index = FlatIndex(dimension: dev.dim, metric: metric)
            index.reserveCapacity(dev.n)
            for i in 0..<dev.n { index.upsert(id: UInt64(i), vector: Array(dev.baseRow(i))) }
            let result = dev.queries.withUnsafeBufferPointer { index.blockedSearch($0, count: dev.nq, k: 10, filter: nil) }
            var hit = 0
            for qi in 0..<dev.nq {
                let truth = dev.gt(metric, qi, 10)
                hit += result.hits[qi].filter { truth.contains($0.id) }.count
                XCTAssertEqual(result.hits[qi], index.search(dev.query(qi), k: 10), "query \(qi)")
            }
            let recall = Double(hit) / Double(10 * dev.nq)
            print("flat batch \(metric) recall@10 = \(recall), rescans \(result.rescans) of \(dev.nq)")
            XCTAssertEqual(recall, 1.0, "\(metric)")
        }
    }
}
