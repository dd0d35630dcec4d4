import LynxIndex
import LynxSupport

/// What `POST /index/rebuild` did.
public struct RebuildReport: Sendable {
    public var index: IndexKind
    /// `retrained` (IVF: k-means over all current vectors), `consolidated` (HNSW: tombstones unlinked and
    /// their slots freed, nodes no search could reach re-linked, codes fitted again on every vector), or `none`
    /// (Flat has no structure).
    public var action: String
    public var durationSeconds: Double
}

extension Engine {
    /// Rebuilds the index's derived structure from the vectors it holds: IVF retrains its quantizer (after a
    /// bulk load the clusters chosen at the first 1,000 vectors are stale), HNSW repairs and frees its deleted
    /// nodes and fits its codes' quantizer again (likewise fitted on the first vectors). Writes wait while it runs; searches go on against the old structure until the new one is swapped
    /// in. The builder pauses meanwhile (pending records stay pending and searchable). A checkpoint follows, so a
    /// restart loads the rebuilt structure.
    public func rebuildIndex() throws -> RebuildReport {
        try checkReady()
        let started = monotonicSeconds()
        let action: String = try linkLock.withLock { _ in try writerLock.withLock { _ in
            try checkReady()
            var index = stateLock.read { state.index }
            let action: String
            if var ivf = index as? IVFIndex {
                ivf.retrain()
                index = ivf
                action = "retrained"
            } else if var hnsw = index as? HNSWIndex {
                hnsw.consolidate()
                let relinked = hnsw.repairUnreachable()
                if relinked > 0 { logger.notice("re-linked HNSW nodes that no search could reach", metadata: ["nodes": "\(relinked)"]) }
                hnsw.refitCodes()
                index = hnsw
                action = "consolidated"
            } else {
                return "none"
            }
            stateLock.write { state.index = index }
            return action
        } }
        let seconds = monotonicSeconds() - started
        logger.info("index rebuilt", metadata: ["index": "\(indexKind.rawValue)", "action": "\(action)", "seconds": "\((seconds * 1000).rounded() / 1000)"])
        if action != "none" { try checkpoint() }
        return RebuildReport(index: indexKind, action: action, durationSeconds: seconds)
    }
}
