import CLynxKernels

extension HNSWIndex {
    // MARK: - codes (sq8, rabitq)

    /// Bytes of one code row for `quantization` (none has no rows; its width is the dimension's, as sq8's). A
    /// rabitq row is its factors, then its code (`factorBytes`).
    static func codeWidth(dimension: Int, _ quantization: Quantization) -> Int {
        switch quantization {
        case .none, .sq8: return dimension
        case .rabitq(let bits): return factorBytes + RaBitQuantizer.codeBytes(dimension: dimension, bits: bits)
        }
    }

    /// The two floats (factor, term) at the start of each rabitq code row, in the cache line the code starts in,
    /// so that scoring a slot touches one place.
    static let factorBytes = 8

    /// Whether the codes' quantizer is fitted (then every slot has a code).
    var hasCodes: Bool { quantizer != nil || rabitq != nil }

    /// Writes slot `s`'s code once the quantizer is fitted; fits it (and codes every slot) when the index reaches
    /// `ScalarQuantizer.trainingSize` vectors. Called whenever a slot gets a vector.
    mutating func codeSlot(_ s: UInt32) {
        guard quantization != .none else { return }
        if hasCodes {
            writeCode(s)
        } else if slotOf.count >= ScalarQuantizer.trainingSize {
            fitQuantizer()
        }
    }

    /// Fits the quantizer again on every live vector and codes every slot with it (`POST /index/rebuild`: the
    /// ranges or the centroid fitted on the first vectors may not suit the later ones). Nothing when there are no
    /// codes yet.
    public mutating func refitCodes() {
        guard hasCodes else { return }
        fitQuantizer()
    }

    /// Fits the quantizer on the vector of every live slot and codes every slot.
    mutating func fitQuantizer() {
        let rows = vectors, norms = invNorms, cosine = metric == .cosine
        let live = (0..<ids.count).filter { states[$0] == .live }
        let row = { (i: Int) in rows.row(live[i]) }, scale = { (i: Int) in cosine ? norms[live[i]] : 1 }
        switch quantization {
        case .none: return
        case .sq8:
            quantizer = ScalarQuantizer(dimension: dimension, count: live.count, row: row, scale: scale)
        case .rabitq(let bits):
            // The rotation is drawn from the index's seed (or its level generator's state), so that a seeded
            // index codes the same way every time; the matrix itself is stored with the codes.
            let rotationSeed = (seed ?? rngState) ^ 0x5241_4249_5451_0000
            rabitq = RaBitQuantizer(dimension: dimension, bits: bits, seed: rotationSeed, count: live.count,
                                    row: row, scale: scale)
        }
        codes = CodeRows(width: HNSWIndex.codeWidth(dimension: dimension, quantization))
        codeTerms = []
        for s in 0..<ids.count { writeCode(UInt32(s)) }
    }

    /// The factor a slot's vector is coded with: its inverse norm under cosine (codes of the unit vectors).
    @inline(__always)
    func codeScale(_ s: UInt32) -> Float { metric == .cosine ? invNorms[Int(s)] : 1 }

    /// Codes slot `s` with the fitted quantizer (its code row, and sq8's `codeTerms`).
    mutating func writeCode(_ s: UInt32) {
        let x = vectors.row(Int(s)), scale = codeScale(s), metric = self.metric
        if let quantizer {
            var term: Float = 0
            codes.set(Int(s)) { term = quantizer.encode(x, scale: scale, into: $0) }
            guard metric == .l2 else { return }
            if Int(s) == codeTerms.count { codeTerms.append(term) } else { codeTerms[Int(s)] = term }
        } else if let rabitq {
            codes.set(Int(s)) { row in
                let factors = rabitq.encode(x, scale: scale, metric: metric, into: row + HNSWIndex.factorBytes)
                let raw = UnsafeMutableRawPointer(row)
                raw.storeBytes(of: factors.factor, as: Float.self)
                raw.storeBytes(of: factors.term, toByteOffset: 4, as: Float.self)
            }
        }
    }

    /// The quantizer, once fitted (for tests and tools).
    package var fittedQuantizer: ScalarQuantizer? { quantizer }
    /// The RaBitQ quantizer, once fitted (for tests and tools).
    package var fittedRaBitQuantizer: RaBitQuantizer? { rabitq }

    /// The code stored for `id`, or nil (no such id, or no codes yet).
    package func storedCode(_ id: UInt64) -> [UInt8]? {
        guard hasCodes, let s = slotOf[id] else { return nil }
        let skip = rabitq == nil ? 0 : HNSWIndex.factorBytes
        return Array(UnsafeBufferPointer(start: codes.row(Int(s)) + skip, count: codes.width - skip))
    }

    /// The RaBitQ factors stored for `id`, or nil (no such id, or no rabitq codes yet).
    package func storedFactors(_ id: UInt64) -> RaBitQuantizer.Factors? {
        guard rabitq != nil, let s = slotOf[id] else { return nil }
        let raw = UnsafeRawPointer(codes.row(Int(s)))
        return RaBitQuantizer.Factors(factor: raw.load(as: Float.self), term: raw.load(fromByteOffset: 4, as: Float.self))
    }

    /// The query against the codes: an estimate of the score (`ScalarQuantizer`). Under l2,
    /// ‖q − x̃‖² = ‖q‖² − 2·q·x̃ + ‖x̃‖² with ‖x̃‖² from `codeTerms`; under cosine the codes and the weights are
    /// of the unit vectors.
    struct CodeScorer: SlotScorer {
        let g: View
        let weights: UnsafePointer<Int16>
        let offset: Float
        let unit: Float
        /// ‖q‖² under l2.
        let queryTerm: Float

        @inline(__always)
        func score(_ s: UInt32) -> Float {
            let dot = offset + unit * Float(ScalarQuantizer.integerDot(g.code(s), weights, g.dim))
            switch g.metric {
            case .l2: return queryTerm - 2 * dot + g.codeTerms.unsafelyUnwrapped[Int(s)]
            case .cosine: return 1 - dot
            case .dot: return -dot
            }
        }

        @inline(__always)
        func prefetch(_ s: UInt32) { g.prefetchCode(s, bytes: g.dim) }
    }

    /// The query against RaBitQ codes: the estimate of `RaBitQuantizer`, with each slot's factor and term at the
    /// start of its code row.
    struct RaBitQScorer: SlotScorer {
        let g: View
        let weights: UnsafePointer<Int16>
        let unit: Float
        let offset: Float
        let queryTerm: Float
        let bits: Int

        /// Bytes of a row: factors and code.
        let rowBytes: Int

        @inline(__always)
        func score(_ s: UInt32) -> Float {
            let row = g.code(s), raw = UnsafeRawPointer(row)
            let dot = RaBitQuantizer.integerDot(row + HNSWIndex.factorBytes, weights, g.dim, bits: bits)
            return RaBitQuantizer.score(g.metric, unit: unit, offset: offset, term: queryTerm, dot: dot,
                                        factor: raw.load(as: Float.self), codeTerm: raw.load(fromByteOffset: 4, as: Float.self))
        }

        @inline(__always)
        func prefetch(_ s: UInt32) { g.prefetchCode(s, bytes: rowBytes) }
    }
}
