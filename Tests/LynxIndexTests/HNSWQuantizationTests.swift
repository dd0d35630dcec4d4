import LynxIndex
import LynxSupport
import XCTest

/// HNSW with sq8 codes (and, where the test is the same, rabitq codes): the graph is the one the vectors build, the traversal runs on the codes, and the answer is
/// rescored from the vectors.
final class HNSWQuantizationTests: XCTestCase {
    private func clustered(_ rng: inout TestRNG, n: Int, dim: Int) -> [[Float]] {
        let centers = (0..<20).map { _ in rng.vector(dim) }
        return (0..<n).map { _ in centers[Int.random(in: 0..<20, using: &rng)].map { $0 + 0.3 * rng.float() } }
    }

    private func pair(_ metric: Metric, _ rows: [[Float]], dim: Int,
                      quantization: Quantization = .sq8) -> (plain: HNSWIndex, coded: HNSWIndex) {
        var plain = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 60, seed: 5)
        var coded = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 60, seed: 5, quantization: quantization)
        for (i, v) in rows.enumerated() {
            plain.upsert(id: UInt64(i), vector: v)
            coded.upsert(id: UInt64(i), vector: v)
        }
        return (plain, coded)
    }

    /// Below the training size there are no codes and the answers are the exact search's; the vector that
    /// reaches it fits the quantizer and codes every slot (sq8 and rabitq alike).
    func testCodesBeginAtTheTrainingSize() {
        for quantization in [Quantization.sq8, .rabitq(bits: 4)] {
            var rng = TestRNG(seed: 1)
            let dim = 12
            let rows = clustered(&rng, n: ScalarQuantizer.trainingSize, dim: dim)
            var (plain, coded) = pair(.l2, Array(rows.dropLast()), dim: dim, quantization: quantization)
            XCTAssertEqual(coded.memory.codeBytes, 0)
            XCTAssertTrue(coded.parameters.contains { $0 == ("quantizer", "not fitted") })
            XCTAssertTrue(coded.parameters.contains { $0 == (Quantization.key, quantization.text) })
            for _ in 0..<20 {
                let q = rng.vector(dim)
                XCTAssertEqual(coded.search(q, k: 10), plain.search(q, k: 10))
            }
            plain.upsert(id: 99_999, vector: rows.last!)
            coded.upsert(id: 99_999, vector: rows.last!)
            XCTAssertGreaterThan(coded.memory.codeBytes, 0)
            XCTAssertTrue(coded.parameters.contains { $0 == ("quantizer", "fitted") })
        }
    }

    /// Rescored answers carry exact distances and lose little recall against the exact search on the same graph;
    /// unrescored ones carry estimates close to them. A filter still holds.
    func testRescoredAnswersAreExactAndRecallHolds() {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 2)
            let dim = 24
            let rows = clustered(&rng, n: 3000, dim: dim)
            let (plain, coded) = pair(metric, rows, dim: dim)
            var flat = FlatIndex(dimension: dim, metric: metric)
            for (i, v) in rows.enumerated() { flat.upsert(id: UInt64(i), vector: v) }
            var hitsPlain = 0, hitsCoded = 0
            for _ in 0..<50 {
                let q = rng.vector(dim)
                let truth = flat.search(q, k: 10)
                let exact = Dictionary(uniqueKeysWithValues: flat.search(q, k: rows.count).map { ($0.id, $0.distance) })
                let answer = coded.search(q, k: 10, params: SearchParams(efSearch: 64))
                XCTAssertEqual(answer.count, 10)
                for hit in answer { XCTAssertEqual(hit.distance, exact[hit.id]!, accuracy: 1e-4 * max(1, abs(hit.distance)), "\(metric)") }
                let ids = Set(truth.map(\.id))
                hitsCoded += answer.filter { ids.contains($0.id) }.count
                hitsPlain += plain.search(q, k: 10, params: SearchParams(efSearch: 64)).filter { ids.contains($0.id) }.count
                let estimates = coded.search(q, k: 10, params: SearchParams(efSearch: 64, rescore: false))
                for hit in estimates { XCTAssertEqual(hit.distance, exact[hit.id]!, accuracy: 0.05 * max(1, abs(exact[hit.id]!)), "\(metric)") }
                let filtered = coded.search(q, k: 5, filter: { $0 % 3 == 0 })
                XCTAssertEqual(filtered.count, 5)
                XCTAssertTrue(filtered.allSatisfy { $0.id % 3 == 0 })
            }
            print("hnsw sq8 \(metric): recall@10 at ef 64, exact \(Double(hitsPlain) / 500), codes rescored \(Double(hitsCoded) / 500)")
            XCTAssertGreaterThanOrEqual(hitsCoded, hitsPlain - 10, "\(metric): sq8 lost more than 2% of recall")
        }
    }

    /// The codes and the quantizer are serialized (sq8's ranges; rabitq's rotation and centroid, at each code
    /// layout): a decoded index answers alike (estimates included, so the codes are the same), keeps coding new
    /// vectors alike, and a truncated form is refused.
    func testSerializationKeepsTheCodes() throws {
        for metric in Metric.allCases {
            for quantization in [Quantization.sq8, .rabitq(bits: 1), .rabitq(bits: 3), .rabitq(bits: 8)] {
                var rng = TestRNG(seed: 4)
                let dim = 10
                var coded = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 60, seed: 5, quantization: quantization)
                for (i, v) in clustered(&rng, n: 1500, dim: dim).enumerated() { coded.upsert(id: UInt64(i), vector: v) }
                for i in stride(from: 0, to: 1500, by: 9) { coded.remove(UInt64(i)) }
                let bytes = coded.serializedBytes()
                var r = BinaryReader(bytes)
                var back = try HNSWIndex(from: &r)
                XCTAssertTrue(r.isAtEnd)
                XCTAssertEqual(back.quantization, quantization)
                XCTAssertTrue(back.parameters.contains { $0 == ("quantizer", "fitted") })
                XCTAssertEqual(back.fittedQuantizer, coded.fittedQuantizer)
                XCTAssertEqual(back.fittedRaBitQuantizer, coded.fittedRaBitQuantizer)
                for _ in 0..<20 {
                    let q = rng.vector(dim)
                    XCTAssertEqual(back.search(q, k: 10), coded.search(q, k: 10))
                    let raw = SearchParams(rescore: false)
                    XCTAssertEqual(back.search(q, k: 10, params: raw), coded.search(q, k: 10, params: raw))
                }
                for (i, v) in clustered(&rng, n: 50, dim: dim).enumerated() {
                    coded.upsert(id: 50_000 + UInt64(i), vector: v)
                    back.upsert(id: 50_000 + UInt64(i), vector: v)
                }
                XCTAssertEqual(back.serializedBytes(), coded.serializedBytes())
                for cut in stride(from: bytes.count - 300, to: bytes.count, by: 17) {
                    var rt = BinaryReader(Array(bytes.prefix(cut)))
                    XCTAssertThrowsError(try HNSWIndex(from: &rt))
                }
            }
        }
    }

    /// Vectors past the range fitted on the first ones are clamped, and their estimates suffer; fitting again on
    /// every vector (`POST /index/rebuild`) brings them back.
    func testRefittingFollowsTheData() {
        var rng = TestRNG(seed: 6)
        let dim = 16
        var index = HNSWIndex(dimension: dim, metric: .l2, m: 8, efConstruction: 60, seed: 5, quantization: .sq8)
        let first = clustered(&rng, n: ScalarQuantizer.trainingSize, dim: dim)
        let later = clustered(&rng, n: 2000, dim: dim).map { $0.map { $0 * 4 } }
        for (i, v) in (first + later).enumerated() { index.upsert(id: UInt64(i), vector: v) }
        var flat = FlatIndex(dimension: dim, metric: .l2)
        for (i, v) in (first + later).enumerated() { flat.upsert(id: UInt64(i), vector: v) }
        let queries = (0..<40).map { _ in rng.vector(dim).map { $0 * 4 } }
        func recall(_ index: HNSWIndex) -> Int {
            queries.reduce(0) { sum, q in
                let truth = Set(flat.search(q, k: 10).map(\.id))
                return sum + index.search(q, k: 10, params: SearchParams(rescore: false)).filter { truth.contains($0.id) }.count
            }
        }
        let before = recall(index)
        index.refitCodes()
        let after = recall(index)
        print("hnsw sq8 estimates, recall@10 on data past the first fit: \(Double(before) / 400) fitted on the first vectors, \(Double(after) / 400) refitted")
        XCTAssertGreaterThan(after, before + 40)
    }

    /// Through inserts, replacements, deletes, consolidations (and the slot reuse they bring) and a round trip,
    /// every live record's code is the code of its vector.
    func testCodesFollowEveryWriteThroughChurn() throws {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 9)
            let dim = 9
            var index = HNSWIndex(dimension: dim, metric: metric, m: 6, efConstruction: 30, seed: 3, quantization: .sq8)
            let live = index.churn(dim: dim, &rng)
            XCTAssertGreaterThan(index.freeSlotCount + index.tombstoneCount, 0, "\(metric): the churn never freed a slot")
            var r = BinaryReader(index.serializedBytes())
            let back = try HNSWIndex(from: &r)
            for candidate in [index, back] {
                let quantizer = try XCTUnwrap(candidate.fittedQuantizer, "\(metric)")
                var expected = [UInt8](repeating: 0, count: dim)
                for (id, v) in live {
                    let scale: Float = metric == .cosine ? 1 / v.reduce(0) { $0 + $1 * $1 }.squareRoot() : 1
                    v.withUnsafeBufferPointer { quantizer.encode($0.baseAddress!, scale: scale, into: &expected) }
                    let stored = try XCTUnwrap(candidate.storedCode(id), "\(metric) \(id)")
                    // Under cosine the index scales by its own 1/‖v‖; a code may differ by one where the two round apart.
                    XCTAssertTrue(zip(stored, expected).allSatisfy { abs(Int($0) - Int($1)) <= (metric == .cosine ? 1 : 0) },
                                  "\(metric) id \(id): \(stored) against \(expected)")
                }
            }
        }
    }

    /// Recall on the dev set's real embeddings at the same ef as the exact index's floor.
    func testDevRecall() throws {
        let dev = try DevData.load()
        for metric in [Metric.l2, .cosine] {
            var index = HNSWIndex(dimension: dev.dim, metric: metric, m: 16, efConstruction: 200, seed: 42, quantization: .sq8)
            dev.base.withUnsafeBufferPointer { b in
                for i in 0..<dev.n { index.upsert(id: UInt64(i), vector: UnsafeBufferPointer(rebasing: b[(i * dev.dim)..<((i + 1) * dev.dim)])) }
            }
            let r128 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 128))
            let r64 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 64))
            let raw64 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 64, rescore: false))
            print("hnsw sq8 dev \(metric): recall@10 ef=128 \(r128), ef=64 \(r64), ef=64 without rescoring \(raw64)")
            XCTAssertGreaterThanOrEqual(r128, 0.97, "\(metric)")
            XCTAssertGreaterThanOrEqual(raw64, 0.90, "\(metric)")
        }
    }
}
