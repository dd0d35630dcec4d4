import CLynxKernels

extension HNSWIndex {
    // MARK: - codes (sq8, rabitq)

    /// Bytes of one code row for `quantization` (none has no rows; its width is the dimension's, as sq8's).
    static func codeWidth(dimension: Int, _ quantization: Quantization) -> Int {
        switch quantization {
        case .none, .sq8: return dimension
        case .rabitq(let bits): return RaBitQuantizer.codeBytes(dimension: dimension, bits: bits)
        }
    }

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

    /// Codes slot `s` with the fitted quantizer (its code row and its `codeTerms`).
    mutating func writeCode(_ s: UInt32) {
        let x = vectors.row(Int(s)), scale = codeScale(s), metric = self.metric
        if let quantizer {
            var term: Float = 0
            codes.set(Int(s)) { term = quantizer.encode(x, scale: scale, into: $0) }
            guard metric == .l2 else { return }
            if Int(s) == codeTerms.count { codeTerms.append(term) } else { codeTerms[Int(s)] = term }
        } else if let rabitq {
            var factors = RaBitQuantizer.Factors(factor: 0, term: 0)
            codes.set(Int(s)) { factors = rabitq.encode(x, scale: scale, metric: metric, into: $0) }
            if 2 * Int(s) == codeTerms.count {
                codeTerms += [factors.factor, factors.term]
            } else {
                codeTerms[2 * Int(s)] = factors.factor
                codeTerms[2 * Int(s) + 1] = factors.term
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
        return Array(UnsafeBufferPointer(start: codes.row(Int(s)), count: codes.width))
    }

    /// The RaBitQ factors stored for `id`, or nil (no such id, or no rabitq codes yet).
    package func storedFactors(_ id: UInt64) -> RaBitQuantizer.Factors? {
        guard rabitq != nil, let s = slotOf[id] else { return nil }
        return RaBitQuantizer.Factors(factor: codeTerms[2 * Int(s)], term: codeTerms[2 * Int(s) + 1])
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

    /// The query against RaBitQ codes: the estimate of `RaBitQuantizer`, with each slot's factor and term in
    /// `codeTerms` (two floats a slot).
    struct RaBitQScorer: SlotScorer {
        let g: View
        let weights: UnsafePointer<Int16>
        let unit: Float
        let offset: Float
        let queryTerm: Float
        let bits: Int
        let codeBytes: Int

        @inline(__always)
        func score(_ s: UInt32) -> Float {
            let dot = RaBitQuantizer.integerDot(g.code(s), weights, g.dim, bits: bits)
            let terms = g.codeTerms.unsafelyUnwrapped + 2 * Int(s)
            return RaBitQuantizer.score(g.metric, unit: unit, offset: offset, term: queryTerm, dot: dot,
                                        factor: terms[0], codeTerm: terms[1])
        }

        @inline(__always)
        func prefetch(_ s: UInt32) {
            g.prefetchCode(s, bytes: codeBytes)
            lynx_prefetch(g.codeTerms.unsafelyUnwrapped + 2 * Int(s))
        }
    }
}
