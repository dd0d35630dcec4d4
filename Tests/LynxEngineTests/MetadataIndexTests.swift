import Foundation
import LynxEngine
import LynxIndex
import XCTest

/// Metadata indexes and the filtered-search planner: the indexes follow every write, survive restarts, and a
/// search answers the same with them as without them.
final class MetadataIndexTests: XCTestCase {
    var dirs: [String] = []
    var engines: [Engine] = []

    override func tearDownWithError() throws {
        for engine in engines { engine.close(checkpoint: false) }
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
    }

    func open(_ dir: String? = nil, index: IndexKind = .flat, dimension: Int = 8,
              tweak: (inout EngineConfig) -> Void = { _ in }) throws -> (Engine, String) {
        let dir = dir ?? NSTemporaryDirectory() + "lynx-mdindex-\(UUID().uuidString)"
        if !dirs.contains(dir) { dirs.append(dir) }
        var c = EngineConfig.forTests(dir: dir, dimension: dimension, index: index)
        tweak(&c)
        let engine = try Engine(config: c)
        try engine.recover()
        engines.append(engine)
        return (engine, dir)
    }

    static func record(_ id: Int, _ json: String?, dimension: Int = 8, rng: inout SplitMix64) throws -> VectorRecord {
        VectorRecord(id: UInt64(id), vector: (0..<dimension).map { _ in Float(rng.next() >> 40) / Float(1 << 24) - 0.5 },
                     metadata: try json.map { try Metadata(json: Array($0.utf8)) })
    }

    static func eq(_ path: String, _ v: FieldValue) -> Filter { .condition(FieldPath(dotted: path), .eq(v)) }

    func ids(_ engine: Engine, _ q: [Float], k: Int = 10, filter: Filter?, plan: SearchPlanChoice = .automatic) throws -> (ids: [UInt64], plan: SearchPlan) {
        let answer = try engine.search(q, k: k, params: SearchParams(), filter: filter, plan: plan, includeMetadata: false, includeVector: false)
        return (answer.items.map(\.id), answer.plan)
    }

    /// Replaces, deletes and new records after the index was built all move the record in the index.
    func testTheIndexFollowsUpsertsReplacesAndDeletes() throws {
        let (engine, _) = try open()
        var rng = SplitMix64(seed: 1)
        _ = try engine.upsert(try (0..<6).map { try Self.record($0, $0 % 2 == 0 ? #"{"g":"a"}"# : #"{"g":"b"}"#, rng: &rng) })
        XCTAssertEqual(try engine.createMetadataIndex(FieldPath(dotted: "g"), type: .keyword), .created(lsn: 7))
        _ = try engine.upsert([try Self.record(1, #"{"g":"a"}"#, rng: &rng)])          // b → a
        _ = try engine.delete(2)                                                       // an a goes
        _ = try engine.upsert([try Self.record(7, #"{"g":["a","b"]}"#, rng: &rng)])     // new, in both
        _ = try engine.upsert([try Self.record(4, nil, rng: &rng)])                     // loses its metadata
        _ = try engine.upsert([try Self.record(8, #"{"g":5}"#, rng: &rng)])             // another type: a candidate of every answer
        let q = [Float](repeating: 0, count: 8)
        let a = try ids(engine, q, filter: Self.eq("g", .string("a")))
        XCTAssertEqual(a.plan, SearchPlan(kind: .exact, estimatedMatches: 4))  // 0, 1, 7 and the candidate 8
        XCTAssertEqual(Set(a.ids), [0, 1, 7])
        XCTAssertEqual(Set(try ids(engine, q, filter: Self.eq("g", .string("b"))).ids), [3, 5, 7])
        XCTAssertEqual(Set(try ids(engine, q, filter: Self.eq("g", .int(5))).ids), [8])
        XCTAssertEqual(engine.metadataIndexes, [MetadataIndexInfo(path: FieldPath(["g"]), type: .keyword, indexedRecords: 5,
                                                                  distinctValues: 2, otherRecords: 1)])
    }

    func testCreateIsIdempotentAndConflictsAndDropsAreChecked() throws {
        let (engine, _) = try open()
        let year = FieldPath(dotted: "meta.year")
        XCTAssertEqual(try engine.createMetadataIndex(year, type: .integer), .created(lsn: 1))
        XCTAssertEqual(try engine.createMetadataIndex(year, type: .integer), .existed)
        XCTAssertThrowsError(try engine.createMetadataIndex(year, type: .float)) {
            XCTAssertEqual($0 as? EngineError, .metadataIndexConflict(path: year, existing: .integer))
        }
        XCTAssertThrowsError(try engine.dropMetadataIndex(FieldPath(dotted: "nope"))) {
            XCTAssertEqual($0 as? EngineError, .metadataIndexNotFound(path: FieldPath(["nope"])))
        }
        XCTAssertThrowsError(try engine.createMetadataIndex(FieldPath(dotted: "a..b"), type: .bool))
        XCTAssertEqual(engine.lastLSN, 1, "refused requests log nothing")
        XCTAssertEqual(try engine.dropMetadataIndex(year), 2)
        XCTAssertEqual(engine.metadataIndexes, [])
    }

    /// Indexes come back after a restart from the log alone and from a checkpoint, with the writes made after them.
    func testIndexesSurviveReplayAndCheckpoints() throws {
        var rng = SplitMix64(seed: 2)
        var (engine, dir) = try open(index: .hnsw)
        _ = try engine.upsert(try (0..<50).map { try Self.record($0, #"{"n":\#($0)}"#, rng: &rng) })
        _ = try engine.createMetadataIndex(FieldPath(["n"]), type: .integer)
        _ = try engine.createMetadataIndex(FieldPath(["gone"]), type: .bool)
        _ = try engine.dropMetadataIndex(FieldPath(["gone"]))
        _ = try engine.upsert(try (50..<60).map { try Self.record($0, #"{"n":\#($0)}"#, rng: &rng) })
        let small = Filter.condition(FieldPath(["n"]), .gte(.int(55)))
        let q = [Float](repeating: 0, count: 8)
        let before = try ids(engine, q, filter: small)
        XCTAssertEqual(before.plan.kind, .exact)
        for checkpointFirst in [false, true] {
            if checkpointFirst { _ = try engine.checkpoint() }
            engine.close(checkpoint: false)
            engines.removeAll { $0 === engine }
            (engine, _) = try open(dir, index: .hnsw)
            XCTAssertEqual(engine.metadataIndexes.map(\.path), [FieldPath(["n"])])
            XCTAssertEqual(engine.metadataIndexes.first?.indexedRecords, 60)
            let after = try ids(engine, q, filter: small)
            XCTAssertEqual(after.plan, before.plan)
            XCTAssertEqual(after.ids, before.ids)
        }
    }

    /// Few matches: exact; many: the graph; no index: the graph, with no estimate; Flat's own search is a scan.
    func testThePlannerChoosesByTheEstimate() throws {
        var rng = SplitMix64(seed: 3)
        let (engine, _) = try open(index: .hnsw) { $0.exactPlanMaxMatches = 100 }
        _ = try engine.upsert(try (0..<1000).map { try Self.record($0, #"{"n":\#($0)}"#, rng: &rng) })
        let q = [Float](repeating: 0, count: 8)
        let few = Filter.condition(FieldPath(["n"]), .lt(.int(100)))
        let many = Filter.condition(FieldPath(["n"]), .lt(.int(101)))
        XCTAssertEqual(try ids(engine, q, filter: few).plan, SearchPlan(kind: .graph, estimatedMatches: nil))
        _ = try engine.createMetadataIndex(FieldPath(["n"]), type: .integer)
        XCTAssertEqual(try ids(engine, q, filter: few).plan, SearchPlan(kind: .exact, estimatedMatches: 100))
        XCTAssertEqual(try ids(engine, q, filter: many).plan, SearchPlan(kind: .graph, estimatedMatches: 101))
        XCTAssertEqual(try ids(engine, q, filter: .and([many, few])).plan.kind, .exact, "an and is as narrow as its narrowest part")
        XCTAssertEqual(try ids(engine, q, filter: .or([few, few])).plan.kind, .graph, "an or adds its parts up")
        XCTAssertEqual(try ids(engine, q, filter: .not(few)).plan.estimatedMatches, nil)
        XCTAssertEqual(try ids(engine, q, filter: many, plan: .exact).plan.kind, .exact)
        XCTAssertEqual(try ids(engine, q, filter: few, plan: .index).plan.kind, .graph)
        XCTAssertEqual(try ids(engine, q, filter: nil).plan.kind, .unfiltered)

        let (flat, _) = try open()
        _ = try flat.upsert(try (0..<10).map { try Self.record($0, #"{"n":\#($0)}"#, rng: &rng) })
        XCTAssertEqual(try ids(flat, q, filter: few).plan.kind, .scan)
    }

    /// Records waiting in the pending tail are found by the exact plan, in their newest version.
    func testPendingRecordsAreIndexed() throws {
        var rng = SplitMix64(seed: 4)
        let (engine, _) = try open(index: .hnsw) { $0.linkingStartsPaused = true }
        _ = try engine.createMetadataIndex(FieldPath(["g"]), type: .keyword)
        _ = try engine.upsert(try (0..<20).map { try Self.record($0, #"{"g":"x"}"#, rng: &rng) })
        _ = try engine.upsert([try Self.record(3, #"{"g":"y"}"#, rng: &rng)])
        _ = try engine.delete(4)
        XCTAssertGreaterThan(engine.pendingCount, 0)
        let q = [Float](repeating: 0, count: 8)
        let x = try ids(engine, q, k: 100, filter: Self.eq("g", .string("x")))
        XCTAssertEqual(x.plan.kind, .exact)
        XCTAssertEqual(Set(x.ids), Set((0..<20).map(UInt64.init)).subtracting([3, 4]))
        engine.setLinkingPaused(false)
        XCTAssertTrue(engine.waitUntilLinked(seconds: 10))
        XCTAssertEqual(try ids(engine, q, k: 100, filter: Self.eq("g", .string("x"))).ids, x.ids)
    }

    /// Random metadata (every type, arrays, missing fields, values of the wrong type for the index) and random
    /// filters: on a Flat store (exact either way) the results with indexes equal the results without them, and on
    /// HNSW every exact plan returns the true nearest matches.
    func testResultsWithIndexesEqualResultsWithout() throws {
        var rng = SplitMix64(seed: 5)
        let (flat, _) = try open()
        let (hnsw, _) = try open(index: .hnsw)
        func scalar(_ field: String) -> String {
            switch (field, rng.next() % 8) {
            case (_, 0): return "null"
            case (_, 1): return "\"s\(rng.next() % 3)\""
            case (_, 2): return rng.next() % 2 == 0 ? "true" : "false"
            case (_, 3): return "\(Double(rng.next() % 6) + 0.5)"
            case ("k", _): return "\"s\(rng.next() % 4)\""
            case ("b", _): return rng.next() % 2 == 0 ? "true" : "false"
            default: return "\(Int(rng.next() % 12) - 2)"
            }
        }
        var records: [VectorRecord] = []
        for id in 0..<400 {
            var members: [String] = []
            for field in ["k", "i", "f", "b"] where rng.next() % 5 != 0 {
                let value = rng.next() % 6 == 0 ? "[\(scalar(field)),\(scalar(field))]" : scalar(field)
                members.append("\"\(field)\":\(value)")
            }
            records.append(try Self.record(id, rng.next() % 10 == 0 ? nil : "{\(members.joined(separator: ","))}", rng: &rng))
        }
        for engine in [flat, hnsw] {
            _ = try engine.upsert(records)
            for (field, type) in [("k", MetadataIndexType.keyword), ("i", .integer), ("f", .float), ("b", .bool)] {
                _ = try engine.createMetadataIndex(FieldPath([field]), type: type)
            }
        }
        func operand() -> FieldValue {
            switch rng.next() % 5 {
            case 0: return .string("s\(rng.next() % 4)")
            case 1: return .bool(rng.next() % 2 == 0)
            case 2: return .double(Double(rng.next() % 8) - 1.5)
            default: return .int(Int64(rng.next() % 12) - 2)
            }
        }
        func condition() -> Filter {
            let path = FieldPath([["k", "i", "f", "b", "z"][Int(rng.next() % 5)]])
            let c: Condition
            switch rng.next() % 9 {
            case 0: c = .eq(operand())
            case 1: c = .ne(operand())
            case 2: c = .gt(operand())
            case 3: c = .gte(operand())
            case 4: c = .lt(operand())
            case 5: c = .lte(operand())
            case 6: c = .in([operand(), operand()])
            case 7: c = .nin([operand()])
            default: c = .exists(rng.next() % 2 == 0)
            }
            return .condition(path, c)
        }
        func filter(_ depth: Int) -> Filter {
            if depth == 0 || rng.next() % 3 == 0 { return condition() }
            switch rng.next() % 3 {
            case 0: return .and((0..<Int(rng.next() % 3)).map { _ in filter(depth - 1) })
            case 1: return .or((0..<Int(1 + rng.next() % 2)).map { _ in filter(depth - 1) })
            default: return .not(filter(depth - 1))
            }
        }
        var exactPlans = 0
        for case_ in 0..<1500 {
            let f = filter(3)
            let q = try Self.record(0, nil, rng: &rng).vector
            let reference = try ids(flat, q, k: 400, filter: f, plan: .index)
            let planned = try ids(flat, q, k: 400, filter: f)
            XCTAssertEqual(planned.ids, reference.ids, "case \(case_): \(f) (\(planned.plan))")
            let truth = Array(reference.ids.prefix(10))
            let graph = try ids(hnsw, q, k: 10, filter: f)
            if graph.plan.kind == .exact {
                exactPlans += 1
                XCTAssertEqual(graph.ids, truth, "case \(case_): \(f)")
            }
            // Counts use the indexes' candidates too.
            let matching = records.filter { f.matches($0.metadata?.document) }.count
            XCTAssertEqual(try flat.count(matching: f), matching, "case \(case_): \(f)")
            XCTAssertEqual(try hnsw.count(matching: f), matching, "case \(case_): \(f)")
            XCTAssertEqual(try ids(hnsw, q, k: 10, filter: f, plan: .exact).ids, f.matches(nil)
                           ? try ids(hnsw, q, k: 10, filter: f, plan: .index).ids : truth, "case \(case_): \(f)")
        }
        XCTAssertGreaterThan(exactPlans, 300)
    }
}
