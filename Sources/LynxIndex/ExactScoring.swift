// Exact scoring of a known set of records, reading the rows in place (`VectorIndex.score`).

extension HNSWIndex {
    public func score(_ query: UnsafePointer<Float>, queryInverseNorm: Float, ids: [UInt64], into top: inout TopK) {
        scoreInPlace(query, queryInverseNorm, ids, &top) { id in
            slotOf[id].map { (vectors.row(Int($0)), metric == .cosine ? invNorms[Int($0)] : 1) }
        }
    }
}

extension FlatIndex {
    public func score(_ query: UnsafePointer<Float>, queryInverseNorm: Float, ids: [UInt64], into top: inout TopK) {
        scoreInPlace(query, queryInverseNorm, ids, &top) { id in
            slotOf[id].map { (data.row(Int($0)), metric == .cosine ? invNorms[Int($0)] : 1) }
        }
    }
}

extension VectorIndex {
    /// `locate` gives an id's row and inverse norm (nil: the index does not hold it).
    @inline(__always)
    func scoreInPlace(_ query: UnsafePointer<Float>, _ queryInverseNorm: Float, _ ids: [UInt64], _ top: inout TopK,
                      locate: (UInt64) -> (row: UnsafePointer<Float>, inverseNorm: Float)?) {
        for id in ids {
            guard let (row, inverseNorm) = locate(id) else { continue }
            top.push(score: Distance.score(metric, query, queryInverseNorm, row, inverseNorm, dimension), id: id)
        }
    }
}
