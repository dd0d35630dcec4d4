import LynxIndex
import LynxSupport
import XCTest

/// HNSW with extended RaBitQ codes: the graph is the one the vectors build, the traversal runs on the codes'
/// estimates, and the answer is rescored from the vectors (as with sq8, `HNSWQuantizationTests`, which also tests
/// the first fit and the round trip of rabitq codes).
final class HNSWRaBitQTests: XCTestCase {
    private func clustered(_ rng: inout TestRNG, n: Int, dim: Int) -> [[Float]] {
        let centers = (0..<20).map { _ in rng.vector(dim) }
        return (0..<n).map { _ in centers[Int.random(in: 0..<20, using: &rng)].map { $0 + 0.3 * rng.float() } }
    }

    private func index(_ metric: Metric, _ quantization: Quantization, _ rows: [[Float]], dim: Int) -> HNSWIndex {
        var index = HNSWIndex(dimension: dim, metric: metric, m: 8, efConstruction: 60, seed: 5, quantization: quantization)
        for (i, v) in rows.enumerated() { index.upsert(id: UInt64(i), vector: v) }
        return index
    }

    /// Rescored answers carry exact distances and, with 4 or 8 bits, lose little recall against the exact search
    /// on the same graph; unrescored ones carry estimates near the exact distances. A filter still holds.
    func testRescoredAnswersAreExactAndRecallHolds() {
        for metric in Metric.allCases {
            var rng = TestRNG(seed: 2)
            let dim = 48
            let rows = clustered(&rng, n: 3000, dim: dim)
            let plain = index(metric, .none, rows, dim: dim)
            var flat = FlatIndex(dimension: dim, metric: metric)
            for (i, v) in rows.enumerated() { flat.upsert(id: UInt64(i), vector: v) }
            let queries = (0..<50).map { _ in rng.vector(dim) }
            let truths = queries.map { flat.search($0, k: 10) }
            let exacts = queries.map { q in Dictionary(uniqueKeysWithValues: flat.search(q, k: rows.count).map { ($0.id, $0.distance) }) }
            let params = SearchParams(efSearch: 64)
            let hitsPlain = zip(queries, truths).reduce(0) { sum, qt in
                let ids = Set(qt.1.map(\.id))
                return sum + plain.search(qt.0, k: 10, params: params).filter { ids.contains($0.id) }.count
            }
            for bits in [1, 4, 8] {
                let coded = index(metric, .rabitq(bits: bits), rows, dim: dim)
                var hitsCoded = 0, squaredError: Double = 0, estimates = 0
                for (qi, q) in queries.enumerated() {
                    let answer = coded.search(q, k: 10, params: params)
                    XCTAssertEqual(answer.count, 10)
                    for hit in answer {
                        XCTAssertEqual(hit.distance, exacts[qi][hit.id]!, accuracy: 1e-4 * max(1, abs(hit.distance)), "\(metric) bits \(bits)")
                    }
                    let ids = Set(truths[qi].map(\.id))
                    hitsCoded += answer.filter { ids.contains($0.id) }.count
                    // Errors in units of ‖q‖·‖x‖, the scale of the estimator's error for every metric.
                    let qNorm = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    for hit in coded.search(q, k: 10, params: SearchParams(efSearch: 64, rescore: false)) {
                        let exact = exacts[qi][hit.id]!, x = rows[Int(hit.id)]
                        let unit = metric == .cosine ? 1 : qNorm * x.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        squaredError += Double((hit.distance - exact) / unit) * Double((hit.distance - exact) / unit)
                        estimates += 1
                    }
                    let filtered = coded.search(q, k: 5, filter: { $0 % 3 == 0 })
                    XCTAssertEqual(filtered.count, 5)
                    XCTAssertTrue(filtered.allSatisfy { $0.id % 3 == 0 })
                }
                let rms = (squaredError / Double(estimates)).squareRoot()
                print("hnsw rabitq:\(bits) \(metric): recall@10 at ef 64, exact \(Double(hitsPlain) / 500), codes rescored \(Double(hitsCoded) / 500); estimates' rms error \(rms) of ‖q‖·‖x‖")
                if bits >= 4 { XCTAssertGreaterThanOrEqual(hitsCoded, hitsPlain - 10, "\(metric) bits \(bits): lost more than 2% of recall") }
                XCTAssertLessThan(rms, bits == 1 ? 0.3 : bits == 4 ? 0.025 : 0.002, "\(metric) bits \(bits)")
            }
        }
    }

    /// An unfitted rabitq index keeps its bits through a round trip; bits out of range are refused.
    func testTheBitsAreSerializedBeforeAnyFit() throws {
        var index = HNSWIndex(dimension: 4, metric: .l2, m: 4, efConstruction: 10, seed: 1, quantization: .rabitq(bits: 6))
        index.upsert(id: 1, vector: [1, 2, 3, 4])
        var bytes = index.serializedBytes()
        var r = BinaryReader(bytes)
        XCTAssertEqual(try HNSWIndex(from: &r).quantization, .rabitq(bits: 6))
        // The last three bytes: quantization 2, bits, fitted 0.
        XCTAssertEqual(Array(bytes.suffix(3)), [2, 6, 0])
        bytes[bytes.count - 2] = 9
        var bad = BinaryReader(bytes)
        XCTAssertThrowsError(try HNSWIndex(from: &bad))
    }

    /// A version 3 form (sq8 or none, before rabitq) still reads, the same bytes under the older version number;
    /// rabitq under version 3 is refused.
    func testVersion3IsStillRead() throws {
        var rng = TestRNG(seed: 12)
        let rows = clustered(&rng, n: 1100, dim: 8)
        for quantization in [Quantization.none, .sq8, .rabitq(bits: 2)] {
            let index = index(.l2, quantization, rows, dim: 8)
            var bytes = index.serializedBytes()
            XCTAssertEqual(bytes[4], 4)
            bytes[4] = 3
            var r = BinaryReader(bytes)
            if case .rabitq = quantization {
                XCTAssertThrowsError(try HNSWIndex(from: &r))
                continue
            }
            let back = try HNSWIndex(from: &r)
            XCTAssertEqual(back.serializedBytes(), index.serializedBytes())
        }
    }

    /// A centroid fitted on the first vectors is far from later ones, once the first are deleted; fitting again
    /// on every live vector (`POST /index/rebuild`) brings it to them and makes the estimates sharper.
    func testRefittingFollowsTheData() {
        var rng = TestRNG(seed: 6)
        let dim = 32
        var index = HNSWIndex(dimension: dim, metric: .l2, m: 8, efConstruction: 60, seed: 5, quantization: .rabitq(bits: 2))
        let first = clustered(&rng, n: ScalarQuantizer.trainingSize, dim: dim)
        let later = clustered(&rng, n: 2000, dim: dim).map { $0.map { $0 + 6 } }
        for (i, v) in (first + later).enumerated() { index.upsert(id: UInt64(i), vector: v) }
        for i in 0..<first.count { index.remove(UInt64(i)) }
        var flat = FlatIndex(dimension: dim, metric: .l2)
        for (i, v) in later.enumerated() { flat.upsert(id: UInt64(first.count + i), vector: v) }
        let queries = (0..<40).map { _ in later[Int.random(in: 0..<later.count, using: &rng)].map { $0 + 0.1 * rng.float() } }
        func recall(_ index: HNSWIndex) -> Int {
            queries.reduce(0) { sum, q in
                let truth = Set(flat.search(q, k: 10).map(\.id))
                return sum + index.search(q, k: 10, params: SearchParams(rescore: false)).filter { truth.contains($0.id) }.count
            }
        }
        let centroid = index.fittedRaBitQuantizer!.centroid
        let before = recall(index)
        index.refitCodes()
        let after = recall(index)
        print("hnsw rabitq:2 estimates, recall@10 on data far from the first fit: \(Double(before) / 400) fitted on the first vectors, \(Double(after) / 400) refitted")
        XCTAssertNotEqual(index.fittedRaBitQuantizer!.centroid, centroid)
        XCTAssertGreaterThan(after, before + 20)
    }

    /// Through inserts, replacements, deletes, consolidations (and the slot reuse they bring) and a round trip,
    /// every live record's code and factors are those of its vector.
    func testCodesFollowEveryWriteThroughChurn() throws {
        for metric in Metric.allCases {
            for bits in [1, 4, 7] {
                var rng = TestRNG(seed: 9)
                let dim = 9
                var index = HNSWIndex(dimension: dim, metric: metric, m: 6, efConstruction: 30, seed: 3, quantization: .rabitq(bits: bits))
                let live = index.churn(dim: dim, &rng)
                XCTAssertGreaterThan(index.freeSlotCount + index.tombstoneCount, 0, "\(metric): the churn never freed a slot")
                var r = BinaryReader(index.serializedBytes())
                let back = try HNSWIndex(from: &r)
                for candidate in [index, back] {
                    let quantizer = try XCTUnwrap(candidate.fittedRaBitQuantizer, "\(metric)")
                    var expected = [UInt8](repeating: 0, count: quantizer.codeBytes)
                    for (id, v) in live {
                        let scale: Float = metric == .cosine ? v.withUnsafeBufferPointer { Distance.inverseNorm($0.baseAddress!, dim) } : 1
                        for i in expected.indices { expected[i] = 0 }
                        let factors = v.withUnsafeBufferPointer { quantizer.encode($0.baseAddress!, scale: scale, metric: metric, into: &expected) }
                        XCTAssertEqual(candidate.storedCode(id), expected, "\(metric) bits \(bits) id \(id)")
                        XCTAssertEqual(candidate.storedFactors(id), factors, "\(metric) bits \(bits) id \(id)")
                    }
                }
            }
        }
    }

    /// Recall on the dev set's real embeddings at ef 64 and 128, rescored and not, for 1, 4 and 8 bits under l2 and
    /// 4 bits under cosine (floors about 0.01 under the measurements in BENCHMARKS.md, "Compressed vectors,
    /// part 2": the dev vectors are unit length, so cosine measured the same as l2).
    func testDevRecall() throws {
        let dev = try DevData.load()
        let floors: [Int: (ef64: Double, ef128: Double, raw64: Double)] = [1: (0.96, 0.97, 0.73), 4: (0.98, 0.99, 0.94), 8: (0.98, 0.99, 0.975)]
        for (metric, bits) in [(Metric.l2, 1), (.l2, 4), (.l2, 8), (.cosine, 4)] {
            var index = HNSWIndex(dimension: dev.dim, metric: metric, m: 16, efConstruction: 200, seed: 42, quantization: .rabitq(bits: bits))
            dev.base.withUnsafeBufferPointer { b in
                for i in 0..<dev.n { index.upsert(id: UInt64(i), vector: UnsafeBufferPointer(rebasing: b[(i * dev.dim)..<((i + 1) * dev.dim)])) }
            }
            let r128 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 128))
            let r64 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 64))
            let raw64 = dev.recall(index, metric: metric, params: SearchParams(efSearch: 64, rescore: false))
            print("hnsw rabitq:\(bits) dev \(metric): recall@10 ef=128 \(r128), ef=64 \(r64), ef=64 without rescoring \(raw64)")
            XCTAssertGreaterThanOrEqual(r128, floors[bits]!.ef128, "\(metric) bits \(bits)")
            XCTAssertGreaterThanOrEqual(r64, floors[bits]!.ef64, "\(metric) bits \(bits)")
            XCTAssertGreaterThanOrEqual(raw64, floors[bits]!.raw64, "\(metric) bits \(bits)")
        }
    }
}
