import Foundation
import LynxIndex
import XCTest

/// The two-phase upsert (`planUpsert` read-only, then `applyUpsert`) must build exactly the graph `upsert` builds.
final class HNSWPlanApplyTests: XCTestCase {
    enum Op {
        case upsert(UInt64, [Float])
        case remove(UInt64)
    }

    /// Random inserts, replacements (new vector and identical vector), and deletes (enough to trigger
    /// consolidation and free-slot reuse, and replacements whose tombstone triggers consolidation).
    static func script(seed: UInt64, count: Int, dim: Int) -> [Op] {
        var rng = TestRNG(seed: seed)
        var ops: [Op] = []
        var live: [UInt64: [Float]] = [:]
        var nextID: UInt64 = 1
        for _ in 0..<count {
            let r = rng.next() % 100
            if r < 60 || live.count < 20 {
                var v = rng.vector(dim)
                if rng.next() % 10 == 0 { v = v.map { ($0 * 4).rounded() / 4 } }  // coarse values: score ties
                ops.append(.upsert(nextID, v))
                live[nextID] = v
                nextID += 1
            } else {
                let keys = live.keys.sorted()
                let id = keys[Int(rng.next() % UInt64(keys.count))]
                if r < 75 {
                    let v = rng.vector(dim)
                    ops.append(.upsert(id, v))
                    live[id] = v
                } else if r < 80 {
                    ops.append(.upsert(id, live[id]!))  // unchanged: a no-op
                } else {
                    ops.append(.remove(id))
                    live[id] = nil
                }
            }
        }
        return ops
    }

    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    func buildWithUpsert(_ metric: Metric, _ ops: [Op], dim: Int, seed: UInt64) -> HNSWIndex {
        var index = HNSWIndex(dimension: dim, metric: metric, m: 6, efConstruction: 40, seed: seed)
        for op in ops {
            switch op {
            case .upsert(let id, let v): index.upsert(id: id, vector: v)
            case .remove(let id): index.remove(id)
            }
        }
        return index
    }

    /// Prints digests of the upsert-built graphs (compare across commits to check `upsert` itself is unchanged).
    func testPrintUpsertDigests() {
        for metric in Metric.allCases {
            let ops = HNSWPlanApplyTests.script(seed: 7, count: 3000, dim: 12)
            let index = buildWithUpsert(metric, ops, dim: 12, seed: 99)
            print("upsert-digest \(metric) \(String(HNSWPlanApplyTests.digest(index.serializedBytes()), radix: 16)) slots=\(index.slotCount) count=\(index.count)")
        }
    }

    /// Applies one upsert through the two phases; returns false when the index declined to plan it.
    @discardableResult
    static func twoPhaseUpsert<I: VectorIndex>(_ index: inout I, _ id: UInt64, _ v: [Float]) -> Bool {
        v.withUnsafeBufferPointer { buf in
            if let plan = index.planUpsert(id: id, vector: buf) {
                index.applyUpsert(plan, id: id, vector: buf)
                return true
            }
            index.upsert(id: id, vector: buf)
            return false
        }
    }

    func testPlanApplyBuildsTheSameGraphAsUpsertAllMetrics() {
        let dim = 21  // exercises the 16-, 4- and scalar steps of the kernels
        for metric in Metric.allCases {
            let ops = HNSWPlanApplyTests.script(seed: 11, count: 4000, dim: dim)
            var a = HNSWIndex(dimension: dim, metric: metric, m: 6, efConstruction: 40, seed: 5)
            var b = a
            var planned = 0, declined = 0, removes = 0, sawFreeSlots = false
            for (n, op) in ops.enumerated() {
                switch op {
                case .upsert(let id, let v):
                    a.upsert(id: id, vector: v)
                    if HNSWPlanApplyTests.twoPhaseUpsert(&b, id, v) { planned += 1 } else { declined += 1 }
                case .remove(let id):
                    a.remove(id)
                    b.remove(id)
                    removes += 1
                }
                sawFreeSlots = sawFreeSlots || b.freeSlotCount > 0
                if n % 500 == 499 || n == ops.count - 1 {
                    XCTAssertEqual(a.serializedBytes(), b.serializedBytes(), "\(metric): graphs differ after op \(n)")
                }
            }
            XCTAssertEqual(a.count, b.count)
            XCTAssertEqual(a.tombstoneCount, b.tombstoneCount)
            XCTAssertEqual(a.freeSlotCount, b.freeSlotCount)
            // the script must have covered the interesting paths
            XCTAssertGreaterThan(planned, 3000, "\(metric)")
            XCTAssertGreaterThan(declined, 0, "\(metric): no replacement triggered consolidation")
            XCTAssertTrue(sawFreeSlots, "\(metric): no consolidation freed slots")
            var rng = TestRNG(seed: 3)
            for _ in 0..<20 {
                let q = rng.vector(dim)
                XCTAssertEqual(a.search(q, k: 10).map(\.id), b.search(q, k: 10).map(\.id))
            }
            print("plan/apply \(metric): \(planned) planned, \(declined) declined, \(removes) removes, "
                  + "\(b.slotCount) slots, \(b.count) live; bytes identical")
        }
    }

    /// Every upsert planned from the start (empty graph, first node, entry-point changes) at the default m.
    func testPlanApplyFromEmptyWithDefaultParameters() {
        var rng = TestRNG(seed: 8)
        var a = HNSWIndex(dimension: 32, metric: .cosine, seed: 1)
        var b = a
        for id in 0..<600 as Range<UInt64> {
            let v = rng.vector(32)
            a.upsert(id: id, vector: v)
            XCTAssertTrue(HNSWPlanApplyTests.twoPhaseUpsert(&b, id, v))
        }
        XCTAssertEqual(a.serializedBytes(), b.serializedBytes())
    }

    /// The planned-against state must be the applied-to state; otherwise apply falls back to a plain upsert.
    func testStalePlanFallsBackToUpsert() {
        var rng = TestRNG(seed: 4)
        var base = HNSWIndex(dimension: 8, metric: .l2, m: 4, efConstruction: 20, seed: 2)
        for id in 0..<200 as Range<UInt64> { base.upsert(id: id, vector: rng.vector(8)) }
        let v1 = rng.vector(8), v2 = rng.vector(8)
        var reference = base
        reference.upsert(id: 1000, vector: v1)
        reference.upsert(id: 1001, vector: v2)

        // plan for 1001 made before 1000 was inserted: stale when applied
        var b = base
        let stale = v2.withUnsafeBufferPointer { b.planUpsert(id: 1001, vector: $0) }!
        b.upsert(id: 1000, vector: v1)
        v2.withUnsafeBufferPointer { b.applyUpsert(stale, id: 1001, vector: $0) }
        XCTAssertEqual(b.serializedBytes(), reference.serializedBytes())

        // a plan applied for another id falls back too
        var c = base
        c.upsert(id: 1000, vector: v1)
        let other = v2.withUnsafeBufferPointer { c.planUpsert(id: 7777, vector: $0) }!
        v2.withUnsafeBufferPointer { c.applyUpsert(other, id: 1001, vector: $0) }
        XCTAssertEqual(c.serializedBytes(), reference.serializedBytes())

        // planning does not change the index
        let before = base.serializedBytes()
        _ = v1.withUnsafeBufferPointer { base.planUpsert(id: 5, vector: $0) }
        XCTAssertEqual(base.serializedBytes(), before)
    }

    /// Flat keeps the protocol defaults: no plan, `applyUpsert` is `upsert`.
    func testFlatUsesDefaults() {
        var flat = FlatIndex(dimension: 3, metric: .dot)
        XCTAssertFalse(flat.plansUpserts)
        XCTAssertTrue(HNSWIndex(dimension: 3, metric: .dot).plansUpserts)
        XCTAssertNil([Float](repeating: 1, count: 3).withUnsafeBufferPointer { flat.planUpsert(id: 1, vector: $0) })
        XCTAssertFalse(HNSWPlanApplyTests.twoPhaseUpsert(&flat, 1, [1, 2, 3]))
        XCTAssertEqual(flat.vector(1), [1, 2, 3])
    }

    /// Release-build measurement, skipped unless LYNX_BENCH=1: the cost of inserting through plan + apply
    /// against plain upsert, single thread, 384-d, m 16, ef_construction 200. Paired: both indexes get the same
    /// vectors in the same order (so they stay identical) and each vector is timed on both back to back.
    func testBenchmarkPlanApplyVersusUpsert384() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["LYNX_BENCH"] == "1" else { throw XCTSkip("set LYNX_BENCH=1 to run") }
        let n = Int(env["LYNX_BENCH_N"] ?? "") ?? 4000
        let dim = 384
        var rng = TestRNG(seed: 21)
        var a = HNSWIndex(dimension: dim, metric: .l2, seed: 3)
        var b = a
        var upsertTime = 0.0, planTime = 0.0, applyTime = 0.0
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        for id in 0..<UInt64(n) {
            let v = rng.vector(dim)
            v.withUnsafeBufferPointer { buf in
                let t0 = now()
                a.upsert(id: id, vector: buf)
                let t1 = now()
                let plan = b.planUpsert(id: id, vector: buf)!
                let t2 = now()
                b.applyUpsert(plan, id: id, vector: buf)
                let t3 = now()
                upsertTime += t1 - t0
                planTime += t2 - t1
                applyTime += t3 - t2
            }
        }
        XCTAssertEqual(a.serializedBytes(), b.serializedBytes())
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        print(String(format: "BENCH index %d × 384-d: upsert %.1f µs/insert; plan %.1f + apply %.2f = %.1f µs/insert (%+.1f%%); load ",
                     n, upsertTime / Double(n) * 1e6, planTime / Double(n) * 1e6, applyTime / Double(n) * 1e6,
                     (planTime + applyTime) / Double(n) * 1e6, ((planTime + applyTime) / upsertTime - 1) * 100) + load)
    }
}
