// lynx-bench: builds a Lynx index in process over a data set in the dev format and prints one JSON line per
// search setting (recall@10 against the set's exact ground truth, single-thread queries/s, build time, memory).
import ArgumentParser
import Dispatch
import Foundation
import LynxIndex
import LynxSupport
import Synchronization

struct DataSet {
    let n: Int, nq: Int, dim: Int, kGT: Int
    let base: [Float]
    let queries: [Float]
    let gt: [Int32]

    static func load(_ dir: String, metric: Metric) throws -> DataSet {
        let url = URL(fileURLWithPath: dir)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("meta.json")))
            as? [String: Any] ?? [:]
        guard let n = meta["n"] as? Int, let nq = meta["nq"] as? Int, let dim = meta["dim"] as? Int,
              let kGT = meta["k_gt"] as? Int else { throw ValidationError("meta.json lacks n/nq/dim/k_gt") }
        func read<T>(_ name: String, _ count: Int, _: T.Type) throws -> [T] {
            let d = try Data(contentsOf: url.appendingPathComponent(name))
            guard d.count == count * MemoryLayout<T>.size else { throw ValidationError("\(name): unexpected size") }
            return d.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        return DataSet(n: n, nq: nq, dim: dim, kGT: kGT,
                       base: try read("base.f32", n * dim, Float.self),
                       queries: try read("queries.f32", nq * dim, Float.self),
                       gt: try read(metric == .l2 ? "gt_l2.i32" : "gt_cos.i32", nq * kGT, Int32.self))
    }
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// `RssAnon` of this process, in bytes (anonymous resident memory: the heap, not mapped files).
func residentAnonymousBytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return 0
}

/// CPU time of the calling thread (excludes time spent descheduled on a shared machine).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// User + system CPU time of the whole process (all threads).
func processCPUSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

func jsonLine(_ pairs: [(String, Any)]) -> String {
    let body = pairs.map { key, value -> String in
        let v: String
        switch value {
        case let s as String: v = "\"\(s)\""
        case let d as Double: v = String(format: "%.6g", d)
        default: v = "\(value)"
        }
        return "\"\(key)\": \(v)"
    }
    return "{" + body.joined(separator: ", ") + "}"
}

/// A parallel-for on `threads` threads: `body(0..<n)`, each index taken by the next free thread.
func parallelFor(_ threads: Int) -> (Int, (Int) -> Void) -> Void {
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

struct LynxBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynx-bench",
        abstract: "In-process benchmark of Lynx indexes on a data set in the dev format (base.f32, queries.f32, gt_*.i32, meta.json).")

    @Option(help: "Data-set folder.") var data: String = "../shared/data/dev"
    @Option(help: "hnsw | ivf | flat") var index: String = "hnsw"
    @Option(help: "l2 | cosine | dot (dot uses the cosine ground truth; meaningful for unit-norm data)") var metric: String = "l2"
    @Option(help: "HNSW links per node.") var m: Int = IndexParameter.m.defaultValue
    @Option(help: "HNSW beam width at build.") var efConstruction: Int = IndexParameter.efConstruction.defaultValue
    @Option(help: "Comma-separated HNSW beam widths to measure.") var efSearch: String = "16,32,64,128,256"
    @Option(help: "IVF lists; 0 = √n. The index is retrained over the whole set after loading (counted in build time).")
    var nClusters: Int = IndexParameter.clusters.defaultValue
    @Option(help: "Comma-separated IVF probe counts to measure.") var nProbe: String = "1,4,16,64"
    @Option(help: "IVF spill: 0 = each vector in one list, 1 = also in a second (SOAR) list.") var spill: Int = IndexParameter.spill.defaultValue
    @Option(help: "Threads: the HNSW build runs HNSWIndex.insertParallel on this many (1: one upsert at a time), and an extra search-throughput figure is measured on this many (queries/s is always also measured on 1 thread).")
    var threads: Int = 1
    @Option(help: "HNSW records per planBatch/applyBatch round of a build with --threads > 1.") var buildBatch: Int = 32
    @Option(help: "Passes over the queries per setting; the median is reported.") var reps: Int = 3
    @Option(help: "Level-generator seed.") var seed: UInt64 = 42
    @Option(help: "HNSW codes searched on: none | sq8 | rabitq:B (B bits per dimension, 1...8).") var quantization: String = Quantization.none.text
    @Option(help: "With codes: candidates scored again from the full vectors, as a factor on k (default \(SearchParams.defaultOversample)).")
    var oversample: Double?
    @Flag(help: "With codes: return the codes' estimates, no rescoring.") var noRescore = false
    @Flag(help: "HNSW with codes: link the graph on the codes, as a store with on_disk does (HNSWIndex.linksOnCodes; in process the vectors stay in the heap).")
    var linksOnCodes = false
    @Flag(help: "Also time the distance kernels (ns per distance, data in cache).") var kernels = false
    @Flag(help: "Also search all queries in one call (search(batch:)): qps_batch, and whether every list equals the one-query-per-call answer.")
    var batch = false
    @Option(help: "Write the built index (serialized) to this file.") var save: String?
    @Option(help: "Load a serialized index from this file instead of building (build_seconds is then the load time).") var load: String?

    func run() throws {
        guard let metric = Metric(rawValue: metric) else { throw ValidationError("unknown metric \(self.metric)") }
        guard let kind = IndexKind(rawValue: index) else { throw ValidationError("unknown index \(index)") }
        guard let quantization = Quantization(text: quantization) else { throw ValidationError("unknown quantization \(self.quantization)") }
        let ds = try DataSet.load(data, metric: metric)
        let clock = ContinuousClock()
        if kernels { kernelBench(ds) }

        var idx: any VectorIndex
        switch IndexSpec(kind: kind, IndexParameters(m: m, efConstruction: efConstruction, clusters: nClusters, spill: spill,
                                                     quantization: quantization)) {
        case .flat:
            var f = FlatIndex(dimension: ds.dim, metric: metric)
            f.reserveCapacity(ds.n)
            idx = f
        case .ivf(let clusters, let spill):
            guard IndexParameter.spill.range.contains(spill) else { throw ValidationError("--spill must be 0 or 1") }
            idx = IVFIndex(dimension: ds.dim, metric: metric, nClusters: clusters, seed: seed, spill: spill)
        case .hnsw(let m, let efConstruction, let quantization, _):
            var h = HNSWIndex(dimension: ds.dim, metric: metric, m: m, efConstruction: efConstruction, seed: seed,
                              quantization: quantization)
            h.linksOnCodes = linksOnCodes
            h.reserveCapacity(ds.n)
            idx = h
        }
        let loadBefore = loadAverage()
        let residentBefore = residentAnonymousBytes()
        let buildThreads = load == nil && index == "hnsw" ? threads : 1
        var buildTime: Duration = .zero
        let cpuBefore = processCPUSeconds()
        if let path = load {
            buildTime = try clock.measure {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                var r = BinaryReader(bytes)
                idx = try IndexKind.decode(from: &r)
            }
        } else {
            buildTime = clock.measure {
                ds.base.withUnsafeBufferPointer { b in
                    if threads > 1, var h = idx as? HNSWIndex {
                        h.insertParallel(ids: (0..<ds.n).map { UInt64($0) }, vectors: b, batchSize: buildBatch,
                                         parallel: parallelFor(threads))
                        idx = h
                        return
                    }
                    for i in 0..<ds.n {
                        idx.upsert(id: UInt64(i), vector: UnsafeBufferPointer(rebasing: b[(i * ds.dim)..<((i + 1) * ds.dim)]))
                    }
                }
                // As POST /index/rebuild after a bulk load: k-means over the whole set (FAISS trains on all of it too).
                if var ivf = idx as? IVFIndex {
                    ivf.retrain()
                    idx = ivf
                }
            }
        }
        let buildCPU = processCPUSeconds() - cpuBefore
        var serialized: [UInt8] = []
        // What the build (or load) left resident: the index, and whatever the allocator kept of its work.
        let residentIndexBytes = residentAnonymousBytes() - residentBefore
        let serTime = clock.measure { serialized = idx.serializedBytes() }
        let deserTime = try clock.measure {
            var r = BinaryReader(serialized)
            _ = try IndexKind.decode(from: &r)
        }
        if let path = save { try Data(serialized).write(to: URL(fileURLWithPath: path)) }
        let settings = index == "flat" ? "0" : (index == "ivf" ? nProbe : efSearch)
        let efs = settings.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let k = 10
        for ef in efs {
            let params = index == "ivf" ? SearchParams(nProbe: ef)
                : SearchParams(efSearch: ef == 0 ? nil : ef, rescore: !noRescore, oversample: oversample)
            func runAll() -> [[SearchHit]] {
                ds.queries.withUnsafeBufferPointer { q in
                    (0..<ds.nq).map { i in
                        idx.search(UnsafeBufferPointer(rebasing: q[(i * ds.dim)..<((i + 1) * ds.dim)]), k: k, params: params, filter: nil)
                    }
                }
            }
            _ = runAll()  // warm-up
            var times: [Double] = []
            var cpuTimes: [Double] = []
            var results: [[SearchHit]] = []
            for _ in 0..<max(1, reps) {
                let c0 = threadCPUSeconds()
                times.append(seconds(clock.measure { results = runAll() }))
                cpuTimes.append(threadCPUSeconds() - c0)
            }
            times.sort()
            cpuTimes.sort()
            let qps = Double(ds.nq) / times[times.count / 2]
            let qpsCPU = Double(ds.nq) / cpuTimes[cpuTimes.count / 2]
            var hit = 0
            for (qi, res) in results.enumerated() {
                let truth = Set((0..<k).map { UInt64(ds.gt[qi * ds.kGT + $0]) })
                hit += res.filter { truth.contains($0.id) }.count
            }
            var qpsT = 0.0
            if threads > 1 {
                let snapshot = idx
                let t = clock.measure {
                    ds.queries.withUnsafeBufferPointer { q in
                        DispatchQueue.concurrentPerform(iterations: threads) { t in
                            for i in stride(from: t, to: ds.nq, by: threads) {
                                _ = snapshot.search(UnsafeBufferPointer(rebasing: q[(i * ds.dim)..<((i + 1) * ds.dim)]), k: k, params: params, filter: nil)
                            }
                        }
                    }
                }
                qpsT = Double(ds.nq) / seconds(t)
            }
            var line: [(String, Any)] = [("index", index), ("metric", metric.rawValue), ("n", ds.n), ("dim", ds.dim)]
            if index == "hnsw" {
                line += [(IndexParameter.m.key, m), (IndexParameter.efConstruction.key, efConstruction), (SearchParameter.efSearch.key, ef),
                         (Quantization.key, ((idx as? HNSWIndex)?.quantization ?? quantization).text), ("rescore", !noRescore),
                         ("oversample", oversample ?? SearchParams.defaultOversample), ("links_on", linksOnCodes ? "codes" : "vectors")]
                if buildThreads > 1 { line += [("build_batch", buildBatch)] }
            } else if let ivf = idx as? IVFIndex {
                line += [(IndexParameter.clusters.key, ivf.clusterCount), (IndexParameter.spill.key, ivf.spill),
                         ("spilled_count", ivf.spilledCount), (SearchParameter.nProbe.key, ef)]
            }
            line += [(load == nil ? "build_seconds" : "load_seconds", seconds(buildTime)), ("build_threads", buildThreads),
                     ("build_cpu_seconds", buildCPU),
                     ("recall_at_10", Double(hit) / Double(k * ds.nq)), ("qps", qps), ("qps_cpu", qpsCPU)]
            if threads > 1 { line += [("threads", threads), ("qps_threads", qpsT)] }
            // After a load the file's bytes were resident too, so only a build's figure is the index's.
            if load == nil { line += [("rss_anon_bytes_per_vector", Double(residentIndexBytes) / Double(max(1, ds.n)))] }
            if batch { line += batchFigures(idx, ds, k: k, params: params, loopResults: results) }
            let mem = idx.memory
            line += [("vector_bytes", mem.vectorBytes), ("index_bytes", mem.indexBytes), ("code_bytes", mem.codeBytes),
                     ("memory_bytes", mem.totalBytes),
                     ("serialized_bytes", serialized.count), ("serialize_seconds", seconds(serTime)),
                     ("deserialize_seconds", seconds(deserTime)),
                     ("loadavg_before_build", loadBefore), ("loadavg", loadAverage())]
            print(jsonLine(line))
            fflush(stdout)
        }
    }

    /// All queries in one `search(batch:)` call, timed like the loop (median of `reps` after a warm-up).
    func batchFigures(_ idx: any VectorIndex, _ ds: DataSet, k: Int, params: SearchParams,
                      loopResults: [[SearchHit]]) -> [(String, Any)] {
        let clock = ContinuousClock()
        func runBatch() -> [[SearchHit]] {
            ds.queries.withUnsafeBufferPointer { idx.search(batch: $0, count: ds.nq, k: k, params: params, filter: nil) }
        }
        var results = runBatch()  // warm-up
        var times: [Double] = []
        var cpuTimes: [Double] = []
        for _ in 0..<max(1, reps) {
            let c0 = threadCPUSeconds()
            times.append(seconds(clock.measure { results = runBatch() }))
            cpuTimes.append(threadCPUSeconds() - c0)
        }
        times.sort()
        cpuTimes.sort()
        var figures: [(String, Any)] = [("qps_batch", Double(ds.nq) / times[times.count / 2]),
                                        ("qps_batch_cpu", Double(ds.nq) / cpuTimes[cpuTimes.count / 2]),
                                        ("batch_equals_loop", results == loopResults)]
        if let flat = idx as? FlatIndex {
            let rescans = ds.queries.withUnsafeBufferPointer { flat.blockedSearch($0, count: ds.nq, k: k, filter: nil).rescans }
            figures.append(("batch_rescans", rescans))
        }
        return figures
    }

    func kernelBench(_ ds: DataSet) {
        // 256 base rows (384 KB at d=384: in L2) against one query, many rounds
        let rows = min(256, ds.n)
        let clock = ContinuousClock()
        ds.base.withUnsafeBufferPointer { b in
            ds.queries.withUnsafeBufferPointer { q in
                let base = b.baseAddress!, qp = q.baseAddress!
                for (name, f) in [("l2_squared", Distance.l2Squared as (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float),
                                  ("dot", Distance.dot as (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float)] {
                    var best = Double.infinity
                    var sink: Float = 0
                    for _ in 0..<5 {
                        let rounds = 2000
                        let t = clock.measure {
                            for _ in 0..<rounds { for r in 0..<rows { sink += f(qp, base + r * ds.dim, ds.dim) } }
                        }
                        best = min(best, seconds(t) / Double(rounds * rows) * 1e9)
                    }
                    print(jsonLine([("kernel", name), ("dim", ds.dim), ("ns_per_distance", best), ("in_cache", "yes"),
                                    ("sink", Double(sink > 0 ? 1 : 0)), ("loadavg", loadAverage())]))
                }
                // Flat-style streaming scan over all base rows (memory-bound when the set exceeds the cache)
                var best = Double.infinity
                var sink: Float = 0
                for _ in 0..<3 {
                    let t = clock.measure { for r in 0..<ds.n { sink += Distance.l2Squared(qp, base + r * ds.dim, ds.dim) } }
                    best = min(best, seconds(t) / Double(ds.n) * 1e9)
                }
                print(jsonLine([("kernel", "l2_squared_scan"), ("dim", ds.dim), ("rows", ds.n), ("ns_per_distance", best),
                                ("sink", Double(sink > 0 ? 1 : 0)), ("loadavg", loadAverage())]))
            }
        }
    }
}

LynxBench.main()
