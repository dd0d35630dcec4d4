import LynxIndex

/// Writes that are acknowledged and searchable but not yet linked into the graph (docs/INDEXES.md, "Pending
/// records"). A value, copy-on-write like the index beside it, so a checkpoint captures it with the rest of the
/// state in O(1).
///
/// Each write to an id stages an operation with a new sequence number; `latest` maps an id to its newest one, and
/// that operation decides what the id is: a vector in `vectors` (searched exactly, by a Flat scan) or a deletion.
/// Every id in `latest` hides whatever the graph still holds for it. The builder takes operations in staging
/// order from `queue`, links them into the graph, and then `settle`s them; an operation superseded by a newer
/// one for the same id is skipped (the newer one decides the id's final state).
///
/// Concurrency: a value; the engine mutates it under its state write lock and reads it under the read lock.
struct PendingTail {
    struct Operation {
        let id: UInt64
        let seq: UInt64
    }

    /// Pending upserts, by id (the newest vector of each).
    private(set) var vectors: FlatIndex
    /// Ids whose newest pending operation is a delete.
    private(set) var deletes: Set<UInt64> = []
    /// id → sequence number of its newest pending operation. Its keys are the ids the graph's version must not show.
    private(set) var latest: [UInt64: UInt64] = [:]
    /// Staged operations, oldest first; those before `head` are done.
    private var queue: [Operation] = []
    private(set) var head = 0
    private var nextSeq: UInt64 = 0

    init(dimension: Int, metric: Metric) {
        vectors = FlatIndex(dimension: dimension, metric: metric)
    }

    /// The heap it holds, estimated: the vectors (a Flat index) and the maps and queue beside them.
    var memoryBytes: Int {
        vectors.memory.totalBytes + deletes.capacity * 8 * 4 / 3
            + dictionaryBytes(capacity: latest.capacity, keyBytes: 8, valueBytes: 8)
            + queue.capacity * MemoryLayout<Operation>.stride
    }

    /// Ids with a pending operation (the bound `--index-max-pending` applies to this).
    var count: Int { latest.count }
    var isEmpty: Bool { latest.isEmpty }

    /// nil: the id has no pending operation (the graph decides). Otherwise whether it exists, by its newest operation.
    func contains(_ id: UInt64) -> Bool? {
        guard latest[id] != nil else { return nil }
        return !deletes.contains(id)
    }

    mutating func stageUpsert(id: UInt64, vector: UnsafeBufferPointer<Float>) {
        vectors.upsert(id: id, vector: vector)
        deletes.remove(id)
        enqueue(id)
    }

    mutating func stageDelete(_ id: UInt64) {
        vectors.remove(id)
        deletes.insert(id)
        enqueue(id)
    }

    private mutating func enqueue(_ id: UInt64) {
        nextSeq += 1
        latest[id] = nextSeq
        queue.append(Operation(id: id, seq: nextSeq))
    }

    /// What the builder links next: up to `limit` operations that are still the newest for their id, oldest first,
    /// all of one kind (upserts, or deletes: a batch plan covers upserts only), and the queue position after the
    /// last one taken or skipped (pass it to `advance`).
    func nextOperations(limit: Int) -> (operations: [Operation], end: Int) {
        var picked: [Operation] = []
        var kindIsDelete = false
        var i = head
        while i < queue.count && picked.count < limit {
            let op = queue[i]
            if latest[op.id] == op.seq {
                let isDelete = deletes.contains(op.id)
                if picked.isEmpty { kindIsDelete = isDelete } else if isDelete != kindIsDelete { break }
                picked.append(op)
            }
            i += 1
        }
        return (picked, i)
    }

    /// The vector of a pending upsert (nil: the operation is a delete).
    func vector(of op: Operation) -> [Float]? { vectors.vector(op.id) }

    /// After the builder linked `op` into the graph: when it is still the id's newest operation, the graph now
    /// says what the tail said, so the id leaves the tail.
    mutating func settle(_ op: Operation) {
        guard latest[op.id] == op.seq else { return }
        latest.removeValue(forKey: op.id)
        vectors.remove(op.id)
        deletes.remove(op.id)
    }

    /// Marks the queue up to `end` (from `nextOperations`) as done; drops the done prefix once it is most of the queue.
    /// Once nothing is pending the tail starts over empty: its maps and queue, grown for the burst it held, would
    /// otherwise stay allocated after the burst.
    mutating func advance(to end: Int) {
        head = max(head, min(end, queue.count))
        if head == queue.count && latest.isEmpty {
            vectors = FlatIndex(dimension: vectors.dimension, metric: vectors.metric)
            deletes = []
            latest = [:]
            queue = []
            head = 0
        } else if head == queue.count {
            queue.removeAll(keepingCapacity: queue.count <= 1 << 16)
            head = 0
        } else if head > 4096 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// The pending operations in staging order (for snapshots): each id once, by its newest operation.
    func operationsInOrder() -> [Operation] {
        var out: [Operation] = []
        out.reserveCapacity(latest.count)
        for i in head..<queue.count where latest[queue[i].id] == queue[i].seq { out.append(queue[i]) }
        return out
    }
}
