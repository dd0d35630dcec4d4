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
}
