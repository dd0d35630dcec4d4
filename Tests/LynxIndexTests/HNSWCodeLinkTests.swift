import LynxIndex
import XCTest

/// Linking on the codes (`HNSWIndex.linksOnCodes`, set for a store whose vectors are on disk): once the codes are fitted, an insert's layer
/// searches and neighbour choices read codes only, never a stored vector, and the graph they make finds as much
/// as the one the vectors make. Codes a graph does not link on as well (rabitq under 4 bits, or under dot) link on
/// the vectors, and the tests show why.
final class HNSWCodeLinkTests: XCTestCase {
    private func clustered(_ rng: inout TestRNG, n: Int, dim: Int) -> [[Float]] {
        let centers = (0..<20).map { _ in rng.vector(dim) }
        return (0..<n).map { _ in centers[Int.random(in: 0..<20, using: &rng)].map { $0 + 0.3 * rng.float() } }
    }

    private let settings: [Quantization] = [.sq8, .rabitq(bits: 4), .rabitq(bits: 1)]

    private func linksOnCodes(_ quantization: Quantization, _ metric: Metric) -> Bool {
        if case .rabitq(let bits) = quantization { return bits >= 4 && metric != .dot }
        return true
    }

    /// Two copies of an index with fitted codes, one with every stored vector overwritten by NaN, take the same
    /// inserts (one at a time, and a planned batch): their graphs stay identical. With linking on the vectors the
    /// same inserts make different graphs, so the comparison does see a read of a vector.
    func testInsertsReadNoStoredVector() {
        for quantization in settings {
            for metric in [Metric.l2, .cosine] {
                var rng = TestRNG(seed: 11)
                let dim = 32
                let rows = clustered(&rng, n: 1600, dim: dim)
                for linksOnCodes in [true, false] {
                    var a = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 40, seed: 3, quantization: quantization)
                    a.linksOnCodes = linksOnCodes
                    for (i, v) in rows.prefix(1200).enumerated() { a.upsert(id: UInt64(i), vector: v) }
                    var b = a
                    b.overwriteStoredVectors(with: .nan)
                    for i in 1200..<1400 {
                        a.upsert(id: UInt64(i), vector: rows[i])
                        b.upsert(id: UInt64(i), vector: rows[i])
                    }
                    let ids = (1400..<1464).map { UInt64($0) }
                    let batch = rows[1400..<1464].flatMap { $0 }
                    batch.withUnsafeBufferPointer { v in
                        let serial: (Int, (Int) -> Void) -> Void = { n, body in for i in 0..<n { body(i) } }
                        a.applyBatch(a.planBatch(ids: ids, vectors: v, parallel: serial), ids: ids, vectors: v)
                        b.applyBatch(b.planBatch(ids: ids, vectors: v, parallel: serial), ids: ids, vectors: v)
                    }
                    let same = (0...2).allSatisfy { a.linkLists(level: $0) == b.linkLists(level: $0) }
                    if linksOnCodes && self.linksOnCodes(quantization, metric) {
                        XCTAssertTrue(same, "\(quantization.text) \(metric): an insert read a stored vector")
                    } else {
                        XCTAssertFalse(same, "\(quantization.text) \(metric): the poisoned vectors went unnoticed")
                    }
                }
            }
        }
    }

    /// Recall@10 (exact rescoring, ef 64) of the graph linked on the codes is within 2% of the graph linked on
    /// the vectors, for every metric.
    func testTheGraphFindsAsMuch() {
        for quantization in settings {
            for metric in Metric.allCases {
                var rng = TestRNG(seed: 12)
                let dim = 48
                let rows = clustered(&rng, n: 4000, dim: dim)
                var flat = FlatIndex(dimension: dim, metric: metric)
                var onVectors = HNSWIndex(dimension: dim, metric: metric, m: 12, efConstruction: 80, seed: 4, quantization: quantization)
                XCTAssertFalse(onVectors.linksOnCodes, "off unless asked for")
                var onCodes = onVectors
                onCodes.linksOnCodes = true
                for (i, v) in rows.enumerated() {
                    flat.upsert(id: UInt64(i), vector: v)
                    onCodes.upsert(id: UInt64(i), vector: v)
                    onVectors.upsert(id: UInt64(i), vector: v)
                }
                let rowsApart = onCodes.linkLists(level: 0) != onVectors.linkLists(level: 0)
                XCTAssertEqual(rowsApart, linksOnCodes(quantization, metric), "\(quantization.text) \(metric)")
                var hits = (codes: 0, vectors: 0)
                for _ in 0..<60 {
                    // Queries near the data, as a service's are.
                    let q = rows[Int.random(in: 0..<rows.count, using: &rng)].map { $0 + 0.1 * rng.float() }
                    let truth = Set(flat.search(q, k: 10).map(\.id))
                    let params = SearchParams(efSearch: 64)
                    hits.codes += onCodes.search(q, k: 10, params: params).filter { truth.contains($0.id) }.count
                    hits.vectors += onVectors.search(q, k: 10, params: params).filter { truth.contains($0.id) }.count
                }
                print("\(quantization.text) \(metric): recall@10 of the graph linked on \(rowsApart ? "the codes" : "the vectors (both)") \(Double(hits.codes) / 600), on the vectors \(Double(hits.vectors) / 600)")
                XCTAssertGreaterThanOrEqual(hits.codes, hits.vectors - 12, "\(quantization.text) \(metric)")
            }
        }
    }
}
