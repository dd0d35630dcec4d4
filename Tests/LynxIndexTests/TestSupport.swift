import Foundation
import LynxIndex
import XCTest

/// Deterministic generator for test data.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    mutating func float() -> Float { Float.random(in: -1...1, using: &self) }
    mutating func vector(_ dim: Int) -> [Float] { (0..<dim).map { _ in float() } }
}

/// Reference scores in Double.
enum Reference {
    static func l2Squared(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); s += d * d }
        return s
    }
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
        return s
    }
    static func score(_ m: Metric, _ a: [Float], _ b: [Float]) -> Double {
        switch m {
        case .l2: return l2Squared(a, b)
        case .dot: return -dot(a, b)
        case .cosine: return 1 - dot(a, b) / (dot(a, a).squareRoot() * dot(b, b).squareRoot())
        }
    }
    /// Exact top-k ids (ties by lower id) over `items` that pass `filter`.
    static func topK(_ m: Metric, _ q: [Float], _ items: [(UInt64, [Float])], k: Int,
                     filter: ((UInt64) -> Bool)? = nil) -> [(UInt64, Double)] {
        var all = items.filter { filter?($0.0) ?? true }.map { ($0.0, score(m, q, $0.1)) }
        all.sort { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        return Array(all.prefix(k))
    }
}

/// The dev data set (../shared/data/dev relative to the package root, or $LYNX_DEV_DATA).
struct DevData {
    let n: Int, nq: Int, dim: Int, kGT: Int
    let base: [Float]
    let queries: [Float]
    let gtL2: [Int32]
    let gtCos: [Int32]

    func baseRow(_ i: Int) -> ArraySlice<Float> { base[(i * dim)..<((i + 1) * dim)] }
    func query(_ i: Int) -> [Float] { Array(queries[(i * dim)..<((i + 1) * dim)]) }
    func gt(_ metric: Metric, _ q: Int, _ k: Int) -> Set<UInt64> {
        let g = metric == .cosine ? gtCos : gtL2
        return Set((0..<k).map { UInt64(g[q * kGT + $0]) })
    }

    static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["LYNX_DEV_DATA"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // <root>/Tests/LynxIndexTests/TestSupport.swift → <root>/../shared/data/dev
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/data/dev")
    }

    nonisolated(unsafe) private static var cached: DevData?

    /// Loads the set or throws XCTSkip (printing why) when it is absent.
    static func load() throws -> DevData {
        if let c = cached { return c }
        let dir = directory
        let metaURL = dir.appendingPathComponent("meta.json")
        guard FileManager.default.fileExists(atPath: metaURL.path) else {
            let why = "dev data set not found at \(dir.path) (set LYNX_DEV_DATA to a folder in the dev format)"
            print("SKIP: " + why)
            throw XCTSkip(why)
        }
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: metaURL)) as! [String: Any]
        let n = meta["n"] as! Int, nq = meta["nq"] as! Int, dim = meta["dim"] as! Int, kGT = meta["k_gt"] as! Int
        func floats(_ name: String, _ count: Int) throws -> [Float] {
            let d = try Data(contentsOf: dir.appendingPathComponent(name))
            precondition(d.count == count * 4, "\(name): unexpected size")
            return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        func ints(_ name: String, _ count: Int) throws -> [Int32] {
            let d = try Data(contentsOf: dir.appendingPathComponent(name))
            precondition(d.count == count * 4, "\(name): unexpected size")
            return d.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        }
        let data = DevData(n: n, nq: nq, dim: dim, kGT: kGT,
                           base: try floats("base.f32", n * dim), queries: try floats("queries.f32", nq * dim),
                           gtL2: try ints("gt_l2.i32", nq * kGT), gtCos: try ints("gt_cos.i32", nq * kGT))
        cached = data
        return data
    }

    /// Mean recall@k of `index` against the ground truth.
    func recall<I: VectorIndex>(_ index: I, metric: Metric, k: Int = 10, params: SearchParams = SearchParams(),
                                queries qs: Range<Int>? = nil) -> Double {
        let range = qs ?? 0..<nq
        var hit = 0
        for qi in range {
            let res = index.search(query(qi), k: k, params: params)
            let truth = gt(metric, qi, k)
            hit += res.filter { truth.contains($0.id) }.count
        }
        return Double(hit) / Double(k * range.count)
    }
}

extension HNSWIndex {
    /// 4,000 random inserts, replacements and deletes over ids 0..<1600 (one step in five a delete of a live id),
    /// enough to free and reuse slots and to consolidate; returns the live vectors.
    mutating func churn(dim: Int, _ rng: inout TestRNG) -> [UInt64: [Float]] {
        var live: [UInt64: [Float]] = [:]
        for step in 0..<4000 {
            let id = UInt64.random(in: 0..<1600, using: &rng)
            if step % 5 == 4, live[id] != nil {
                remove(id)
                live[id] = nil
            } else {
                let v = rng.vector(dim).map { $0 + 0.01 }
                upsert(id: id, vector: v)
                live[id] = v
            }
        }
        return live
    }
}
