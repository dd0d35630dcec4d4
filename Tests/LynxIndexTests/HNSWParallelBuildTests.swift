import Dispatch
import Foundation
import LynxIndex
import LynxSupport
import Synchronization
import XCTest

/// Parallel construction (`planBatch` on several threads, then `applyBatch`): graph quality as a one-thread build,
/// every record upserted, deterministic bytes.
final class HNSWParallelBuildTests: XCTestCase {
    /// `body(0..<n)` on `threads` threads, each index taken by the next free thread.
    static func parallelFor(_ threads: Int) -> (Int, (Int) -> Void) -> Void {
        { n, body in
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: min(threads, n)) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= n { break }
                    body(i)
                }
            }
        }
    }

    /// `body(0..<n)` on the calling thread, last index first (a schedule no thread pool would pick).
    static let backwards: (Int, (Int) -> Void) -> Void = { n, body in
        for i in (0..<n).reversed() { body(i) }
    }

    func testDevParallelBuildRecallMatchesOneThread() throws {
        let dev = try DevData.load()
        let ids = (0..<dev.n).map { UInt64($0) }
        func fresh() -> HNSWIndex {
            var index = HNSWIndex(dimension: dev.dim, metric: .l2, m: 16, efConstruction: 200, seed: 42)
            index.reserveCapacity(dev.n)
            return index
        }
        let clock = ContinuousClock()
        var serial = fresh(), parallel = fresh()
        let tSerial = clock.measure {
            dev.base.withUnsafeBufferPointer { b in
                for i in 0..<dev.n { serial.upsert(id: ids[i], vector: UnsafeBufferPointer(rebasing: b[(i * dev.dim)..<((i + 1) * dev.dim)])) }
            }
        }
        let tParallel = clock.measure {
            dev.base.withUnsafeBufferPointer { b in
                parallel.insertParallel(ids: ids, vectors: b, batchSize: 32, parallel: HNSWParallelBuildTests.parallelFor(2))
            }
        }
        XCTAssertEqual(parallel.count, dev.n)
        var worst = 0.0
        for ef in [16, 32, 64, 128, 256] {
            let params = SearchParams(efSearch: ef)
            let r1 = dev.recall(serial, metric: .l2, params: params), r2 = dev.recall(parallel, metric: .l2, params: params)
            print("hnsw dev parallel build: ef=\(ef) recall@10 1 thread \(r1), 2 threads \(r2)")
            worst = max(worst, abs(r2 - r1))
            XCTAssertEqual(r2, r1, accuracy: 0.005, "ef=\(ef)")
        }
        print("hnsw dev parallel build: 1 thread \(tSerial), 2 threads \(tParallel), largest recall difference \(worst)")
    }

    /// A small index with tombstones consolidated into free slots, then batches mixing new ids (into free slots
    /// and appended), replacements, unchanged re-upserts, and enough replacements to consolidate after a batch.
    static func churnedIndex(parallel: (Int, (Int) -> Void) -> Void)
        -> (index: HNSWIndex, expected: [UInt64: [Float]], reusedFreeSlots: Int) {
        let dim = 8
        var rng = TestRNG(seed: 7)
        var index = HNSWIndex(dimension: dim, metric: .l2, m: 4, efConstruction: 24, seed: 3)
        var expected: [UInt64: [Float]] = [:]
        for id in UInt64(0)..<300 {
            let v = rng.vector(dim)
            index.upsert(id: id, vector: v)
            expected[id] = v
        }
        for id in stride(from: UInt64(0), to: 300, by: 7) {  // 43 tombstones ≥ 32: consolidated into free slots
            index.remove(id)
            expected[id] = nil
        }
        var batches: [[(UInt64, [Float])]] = []
        var nextID: UInt64 = 1000
        for b in 0..<6 {
            var batch: [(UInt64, [Float])] = []
            let live = expected.keys.sorted()
            var used = Set<UInt64>()
            for j in 0..<(b == 3 ? 48 : b == 5 ? 120 : 24) {
                let kind = b == 3 ? 1 : b == 5 ? 0 : j % 4
                if kind == 0 {
                    batch.append((nextID, rng.vector(dim)))  // new: a free slot while there are some, then appended
                    nextID += 1
                } else {
                    var id = live[Int(rng.next() % UInt64(live.count))]
                    while used.contains(id) { id = live[Int(rng.next() % UInt64(live.count))] }
                    used.insert(id)
                    batch.append((id, kind == 3 ? expected[id]! : rng.vector(dim)))  // unchanged, or replaced
                }
            }
            for (id, v) in batch { expected[id] = v }
            batches.append(batch)
        }
        var reused = 0
        for batch in batches {
            let ids = batch.map(\.0), flat = batch.flatMap(\.1)
            let free = index.freeSlotCount
            flat.withUnsafeBufferPointer { v in
                let plan = index.planBatch(ids: ids, vectors: v, parallel: parallel)
                index.applyBatch(plan, ids: ids, vectors: v)
            }
            reused += max(0, free - index.freeSlotCount)
        }
        return (index, expected, reused)
    }

    func testBatchWithReplacementsUnchangedAndFreeSlots() throws {
        let (index, expected, reused) = HNSWParallelBuildTests.churnedIndex(parallel: HNSWParallelBuildTests.parallelFor(2))
        XCTAssertGreaterThan(reused, 0)
        XCTAssertGreaterThan(index.slotCount, 300)  // the last batch outgrew the free slots
        XCTAssertEqual(index.count, expected.count)
        XCTAssertEqual(index.freeSlotCount + index.count + index.tombstoneCount, index.slotCount)
        for (id, v) in expected {
            XCTAssertEqual(index.vector(id), v, "id \(id)")
            XCTAssertEqual(index.search(v, k: 1, params: SearchParams(efSearch: 64)).first?.id, id, "id \(id) not found")
        }
        // decode validates every link (range, levels, free slots, ids)
        let bytes = index.serializedBytes()
        var r = BinaryReader(bytes)
        let decoded = try HNSWIndex(from: &r)
        XCTAssertEqual(decoded.serializedBytes(), bytes)
        XCTAssertEqual(decoded.count, expected.count)
    }

    func testBatchesAreDeterministic() {
        let a = HNSWParallelBuildTests.churnedIndex(parallel: HNSWParallelBuildTests.parallelFor(2)).index
        let b = HNSWParallelBuildTests.churnedIndex(parallel: HNSWParallelBuildTests.parallelFor(2)).index
        let c = HNSWParallelBuildTests.churnedIndex(parallel: HNSWParallelBuildTests.backwards).index
        XCTAssertEqual(a.serializedBytes(), b.serializedBytes())
        XCTAssertEqual(a.serializedBytes(), c.serializedBytes())
    }

    func testStalePlanFallsBackToUpserts() {
        let dim = 4
        var rng = TestRNG(seed: 11)
        var index = HNSWIndex(dimension: dim, metric: .cosine, m: 4, efConstruction: 16, seed: 1)
        for id in UInt64(0)..<50 { index.upsert(id: id, vector: rng.vector(dim)) }
        let ids: [UInt64] = [3, 60, 61], flat = (0..<3).flatMap { _ in rng.vector(dim) }
        flat.withUnsafeBufferPointer { v in
            let plan = index.planBatch(ids: ids, vectors: v, parallel: HNSWParallelBuildTests.backwards)
            index.upsert(id: 70, vector: rng.vector(dim))  // the value changes after the plan
            index.applyBatch(plan, ids: ids, vectors: v)
        }
        for (i, id) in ids.enumerated() { XCTAssertEqual(index.vector(id), Array(flat[(i * dim)..<((i + 1) * dim)])) }
        XCTAssertEqual(index.count, 53)
    }
}
