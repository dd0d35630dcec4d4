/// Appends little-endian binary values to a byte array: the one byte writer of every format (WAL and snapshot
/// headers, manifest, row chunk files, index layouts, replication batches). Float and integer arrays are
/// bulk-copied. Each `write` writes exactly its type's width: say `write(UInt16(0))`, not `write(0)` (an `Int`,
/// eight bytes).
///
/// Streaming mode (`init(streamingTo:)`): the bytes are handed to a sink in pieces instead of accumulating, so a
/// whole-store serialisation needs no whole-store buffer. Small values collect in `bytes` until it holds
/// `flushBytes`; bulk arrays of at least `flushBytes / 4` go to the sink directly, without a copy (after what is
/// buffered). Call `flush()` at the end. `reserveCapacity` is ignored in this mode. (A whole-store buffer's page
/// zeroing was most of a checkpoint's CPU: BENCHMARKS.md, "Streamed snapshot sections".)
/// Thread safety: a value type; one owner at a time.
public struct BinaryWriter: @unchecked Sendable {
    public private(set) var bytes: [UInt8]
    /// An object the layer encoding into this writer carries along with it, read by its own extensions
    /// (LynxIndex keeps its row chunk sink here: `rowSink`). The writer itself never looks at it.
    public var attachment: AnyObject?
    private let sink: ((UnsafeRawBufferPointer) -> Void)?
    private let flushBytes: Int

    public init(reservingCapacity n: Int = 0) {
        bytes = []
        bytes.reserveCapacity(n)
        sink = nil
        flushBytes = 0
    }

    /// A writer that hands its bytes to `sink`, in order, in pieces (see the type's comment).
    public init(streamingTo sink: @escaping (UnsafeRawBufferPointer) -> Void, flushBytes: Int = 1 << 20) {
        bytes = []
        bytes.reserveCapacity(flushBytes)
        self.sink = sink
        self.flushBytes = flushBytes
    }

    public mutating func reserveCapacity(_ n: Int) {
        if sink == nil { bytes.reserveCapacity(n) }
    }

    /// Streaming mode: hands the buffered bytes to the sink. A no-op otherwise.
    public mutating func flush() {
        guard let sink, !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { sink($0) }
        bytes.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private mutating func flushIfFull() {
        if sink != nil && bytes.count >= flushBytes { flush() }
    }

    /// Appends raw bytes: directly to the sink when streaming and large, else into `bytes`.
    @inline(__always)
    private mutating func append(raw: UnsafeRawBufferPointer) {
        if let sink, raw.count >= flushBytes / 4 {
            flush()
            sink(raw)
        } else {
            bytes.append(contentsOf: raw)
            flushIfFull()
        }
    }

    public mutating func write(_ v: UInt8) { bytes.append(v); flushIfFull() }
    public mutating func write(_ v: UInt16) { appendLE(v) }
    public mutating func write(_ v: UInt32) { appendLE(v) }
    public mutating func write(_ v: UInt64) { appendLE(v) }
    /// Written as a signed 64-bit value.
    public mutating func write(_ v: Int) { appendLE(UInt64(bitPattern: Int64(v))) }
    public mutating func write(_ v: Float) { appendLE(v.bitPattern) }

    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
        flushIfFull()
    }

    /// Writes the elements only (no count); the reader must know the count.
    public mutating func write(contentsOf a: [Float]) { bulk(a) }
    public mutating func write(contentsOf a: [UInt32]) { bulk(a) }
    public mutating func write(contentsOf a: [UInt64]) { bulk(a) }
    public mutating func write(contentsOf a: [UInt8]) { a.withUnsafeBytes { append(raw: $0) } }
    public mutating func write(contentsOf a: UnsafeBufferPointer<Float>) {
        #if _endian(little)
        append(raw: UnsafeRawBufferPointer(a))
        #else
        for x in a { withUnsafeBytes(of: x.bitPattern) { bytes.append(contentsOf: $0.reversed()) }; flushIfFull() }
        #endif
    }

    mutating func bulk<T>(_ a: [T]) {
        #if _endian(little)
        a.withUnsafeBytes { append(raw: $0) }
        #else
        for x in a { withUnsafeBytes(of: x) { bytes.append(contentsOf: $0.reversed()) }; flushIfFull() }
        #endif
    }
}
