import CLynxKernels

extension HNSWIndex {
    // MARK: - codes (sq8)

    /// Writes slot `s`'s code once the quantizer is fitted; fits it (and codes every slot) when the index reaches
    /// `ScalarQuantizer.trainingSize` vectors. Called whenever a slot gets a vector.
    mutating func codeSlot(_ s: UInt32) {
        guard quantization == .sq8 else { return }
        if let quantizer {
            writeCode(s, quantizer)
        } else if slotOf.count >= ScalarQuantizer.trainingSize {
            fitQuantizer()
        }
    }

    /// Fits the quantizer again on every live vector and codes every slot with it (`POST /index/rebuild`: the
    /// ranges fitted on the first vectors may not hold the later ones). Nothing when there are no codes yet.
    public mutating func refitCodes() {
        guard quantizer != nil else { return }
        fitQuantizer()
    }

    /// Fits the quantizer on the vector of every live slot and codes every slot.
    mutating func fitQuantizer() {
        let rows = vectors, norms = invNorms, cosine = metric == .cosine
        let live = (0..<ids.count).filter { states[$0] == .live }
        let fitted = ScalarQuantizer(dimension: dimension, count: live.count, row: { rows.row(live[$0]) },
                                     scale: { cosine ? norms[live[$0]] : 1 })
        quantizer = fitted
        codes = CodeRows(width: dimension)
        codeTerms = []
        for s in 0..<ids.count { writeCode(UInt32(s), fitted) }
    }

    /// The factor a slot's vector is coded with: its inverse norm under cosine (codes of the unit vectors).
    @inline(__always)
    func codeScale(_ s: UInt32) -> Float { metric == .cosine ? invNorms[Int(s)] : 1 }

    mutating func writeCode(_ s: UInt32, _ quantizer: ScalarQuantizer) {
        let x = vectors.row(Int(s)), scale = codeScale(s), l2 = metric == .l2
        var term: Float = 0
        codes.set(Int(s)) { term = quantizer.encode(x, scale: scale, into: $0) }
        guard l2 else { return }
        if Int(s) == codeTerms.count { codeTerms.append(term) } else { codeTerms[Int(s)] = term }
    }

    /// The quantizer, once fitted (for tests and tools).
    package var fittedQuantizer: ScalarQuantizer? { quantizer }

    /// The code stored for `id`, or nil (no such id, or no codes yet).
    package func storedCode(_ id: UInt64) -> [UInt8]? {
        guard quantizer != nil, let s = slotOf[id] else { return nil }
        return Array(UnsafeBufferPointer(start: codes.row(Int(s)), count: dimension))
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
        func prefetch(_ s: UInt32) {
            let raw = UnsafeRawPointer(g.code(s))
            var line = 0
            while line < g.dim && line < 256 {
                lynx_prefetch(raw + line)
                line &+= 64
            }
        }
    }
}
