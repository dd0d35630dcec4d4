extension HNSWIndex {
    // MARK: - scoring a query against the codes or the vectors

    /// A vector prepared for scoring against the codes: sq8's weights, or a RaBitQ query.
    enum CodeQuery {
        case sq8(ScalarQuantizer.QueryWeights, queryTerm: Float)
        case rabitq(RaBitQuantizer.Query)
    }

    /// `q` (with 1/‖q‖ in `qInv` under cosine) prepared against the fitted codes; nil when there are none.
    func codeQuery(_ q: UnsafePointer<Float>, _ qInv: Float) -> CodeQuery? {
        if let rabitq { return .rabitq(rabitq.query(q, scale: qInv, metric: metric)) }
        guard let quantizer else { return nil }
        return .sq8(quantizer.weights(for: q, scale: qInv), queryTerm: metric == .l2 ? Distance.dot(q, q, dimension) : 0)
    }

    /// Runs `traversal` with the scorer of `q`: against the codes when `codeQuery` is given, else the vectors.
    func traverse<T: ScoredTraversal>(_ traversal: T, _ g: View, _ q: UnsafePointer<Float>, _ qInv: Float,
                                      _ codeQuery: CodeQuery?) -> T.Result {
        switch codeQuery {
        case nil:
            return traversal.run(g, VectorScorer(g: g, q: q, qInv: qInv))
        case .sq8(let w, let queryTerm):
            return w.weights.withUnsafeBufferPointer { weights in
                traversal.run(g, CodeScorer(g: g, weights: weights.baseAddress!, offset: w.offset, unit: w.unit,
                                            queryTerm: queryTerm))
            }
        case .rabitq(let prepared):
            return prepared.weights.withUnsafeBufferPointer { weights in
                traversal.run(g, RaBitQScorer(g: g, weights: weights.baseAddress!, unit: prepared.unit,
                                              offset: prepared.offset, queryTerm: prepared.term,
                                              bits: rabitq!.bits, rowBytes: codes.width))
            }
        }
    }

    // MARK: - linking on the codes

    /// Whether inserts link on the codes now: `linksOnCodes`, the codes are fitted, and they are codes a graph
    /// links on as well as on the vectors: sq8, and rabitq of 4 bits or more under l2 and cosine. (With fewer
    /// bits, or rabitq under dot, the graph found less: `HNSWCodeLinkTests`, BENCHMARKS.md "Linking on the
    /// codes".)
    var linkingOnCodes: Bool {
        guard linksOnCodes, hasCodes else { return false }
        if let rabitq { return rabitq.bits >= 4 && metric != .dot }
        return true
    }

    /// The node being inserted, prepared for linking: on the codes when `linkingOnCodes`, else on the vectors.
    func newNode(slot: UInt32, q: UnsafePointer<Float>, inv: Float) -> NewNode {
        guard linkingOnCodes, let query = codeQuery(q, inv) else { return NewNode(slot: slot, q: q, inv: inv) }
        return NewNode(slot: slot, q: q, inv: inv, codeQuery: query, pairs: CodePairs(self, newSlot: slot, q: q, inv: inv))
    }

    /// Scores of pairs of nodes when the graph links on the codes: each slot's code is decoded once per insert
    /// into a row of a common space, and the new node's vector is mapped into the same space exactly. A row `p`
    /// and a term `t` stand for a node; the score of two of them is
    ///     l2:      t_a + t_b − 2⟨p_a, p_b⟩
    ///     dot:     −(⟨p_a, p_b⟩ + t_a + t_b + K)
    ///     cosine:  1 − (⟨p_a, p_b⟩ + t_a + t_b + K)
    /// sq8: `p` is the vector the code stands for (of the unit vector under cosine), `t` its ‖p‖² under l2 and 0
    /// otherwise, K = 0. rabitq: `p` is `factor·y`, the code's estimate of the rotated residual (so that ⟨p, o_x⟩
    /// is the estimate the search uses), `t` the code's term (‖r‖² under l2, ⟨r, c⟩ otherwise), K = ‖c‖².
    /// Not thread safe: one per insert plan.
    final class CodePairs {
        let dimension: Int
        let metric: Metric
        let newSlot: UInt32
        private let constant: Float
        private var rows: [Float]
        private var terms: [Float]
        /// Open addressing from slot to row (`HNSWIndex.none`: empty): looked up for both nodes of every pair
        /// scored, where a `Dictionary` made linking slower (BENCHMARKS.md, "Linking on the codes").
        private var keys: [UInt32]
        private var values: [Int32]
        private let decode: (UInt32, UnsafeMutablePointer<Float>) -> Float

        init(_ index: HNSWIndex, newSlot: UInt32, q: UnsafePointer<Float>, inv: Float) {
            dimension = index.dimension
            metric = index.metric
            self.newSlot = newSlot
            let dim = index.dimension, metric = index.metric, codes = index.codes
            rows = []
            rows.reserveCapacity(64 * dim)
            terms = []
            keys = [UInt32](repeating: HNSWIndex.none, count: 1024)
            values = [Int32](repeating: 0, count: 1024)
            if let rabitq = index.rabitq {
                constant = rabitq.centroid.reduce(0) { $0 + $1 * $1 }
                decode = { s, out in
                    let row = codes.row(Int(s)), raw = UnsafeRawPointer(row)
                    rabitq.reconstruct(row + HNSWIndex.factorBytes, factor: raw.load(as: Float.self), into: out)
                    return raw.load(fromByteOffset: 4, as: Float.self)
                }
            } else {
                let quantizer = index.quantizer!, terms = index.codeTerms
                constant = 0
                decode = { s, out in
                    quantizer.decode(codes.row(Int(s)), into: out)
                    return metric == .l2 ? terms[Int(s)] : 0
                }
            }
            // The new node: its own vector, mapped exactly.
            rows.append(contentsOf: repeatElement(0, count: dim))
            let term = rows.withUnsafeMutableBufferPointer { out in
                index.exactPairRow(q, scale: inv, into: out.baseAddress!)
            }
            terms.append(term)
            insertKey(newSlot, 0)
        }

        /// The score of two nodes (either may be the new one).
        func score(_ a: UInt32, _ b: UInt32) -> Float {
            let ra = row(a), rb = row(b)
            let ip = rows.withUnsafeBufferPointer { p in
                Distance.dot(p.baseAddress! + ra * dimension, p.baseAddress! + rb * dimension, dimension)
            }
            let ta = terms[ra], tb = terms[rb]
            switch metric {
            case .l2: return ta + tb - 2 * ip
            case .dot: return -(ip + ta + tb + constant)
            case .cosine: return 1 - (ip + ta + tb + constant)
            }
        }

        /// The row of slot `s`, decoded the first time it is asked for.
        private func row(_ s: UInt32) -> Int {
            let mask = keys.count - 1
            var i = Int(s.multipliedFullWidth(by: 0x9E37_79B1).low) & mask
            while keys[i] != HNSWIndex.none {
                if keys[i] == s { return Int(values[i]) }
                i = (i + 1) & mask
            }
            let r = terms.count
            rows.append(contentsOf: repeatElement(0, count: dimension))
            let term = rows.withUnsafeMutableBufferPointer { out in decode(s, out.baseAddress! + r * dimension) }
            terms.append(term)
            insertKey(s, r)
            return r
        }

        private func insertKey(_ s: UInt32, _ r: Int) {
            if 2 * (terms.count + 1) > keys.count { grow() }
            let mask = keys.count - 1
            var i = Int(s.multipliedFullWidth(by: 0x9E37_79B1).low) & mask
            while keys[i] != HNSWIndex.none && keys[i] != s { i = (i + 1) & mask }
            keys[i] = s
            values[i] = Int32(r)
        }

        private func grow() {
            let oldKeys = keys, oldValues = values
            keys = [UInt32](repeating: HNSWIndex.none, count: 2 * oldKeys.count)
            values = [Int32](repeating: 0, count: 2 * oldKeys.count)
            let mask = keys.count - 1
            for (k, v) in zip(oldKeys, oldValues) where k != HNSWIndex.none {
                var i = Int(k.multipliedFullWidth(by: 0x9E37_79B1).low) & mask
                while keys[i] != HNSWIndex.none { i = (i + 1) & mask }
                keys[i] = k
                values[i] = v
            }
        }
    }

    /// A vector (scaled by `scale`: 1/‖x‖ under cosine) mapped exactly into the space of `CodePairs`, into
    /// `out`; returns its term.
    func exactPairRow(_ x: UnsafePointer<Float>, scale: Float, into out: UnsafeMutablePointer<Float>) -> Float {
        if let rabitq { return rabitq.rotatedResidual(x, scale: scale, into: out).term(metric) }
        var squaredNorm: Float = 0
        for i in 0..<dimension {
            out[i] = x[i] * scale
            squaredNorm += out[i] * out[i]
        }
        return metric == .l2 ? squaredNorm : 0
    }
}

/// A traversal generic over its scorer (`HNSWIndex.traverse` picks the scorer), so that each is specialized.
protocol ScoredTraversal {
    associatedtype Result
    func run<S: SlotScorer>(_ g: HNSWIndex.View, _ scorer: S) -> Result
}

extension HNSWIndex {
    // MARK: - for tests

    /// Every stored vector overwritten with `value`, codes and graph kept, nothing else changed (not even the
    /// mutation count): tests prove with it that linking on the codes reads no stored vector.
    package mutating func overwriteStoredVectors(with value: Float) {
        let row = [Float](repeating: value, count: dimension)
        for s in 0..<ids.count { vectors.setRow(s, from: row) }
    }

    /// The link list of every slot on `level` (empty for a slot below it).
    package func linkLists(level: Int) -> [[UInt32]] {
        (0..<ids.count).map { s in Int(levels[s]) >= level ? neighbors(UInt32(s), level) : [] }
    }
}
