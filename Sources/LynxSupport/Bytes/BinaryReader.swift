/// Reads little-endian values written by `BinaryWriter`. Every read checks the remaining length and throws
/// `BinaryDecodingError.truncated` instead of reading past the end.
/// Thread safety: a value type; one owner at a time.
public struct BinaryReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// A value the layer decoding from this reader carries along with it, read by its own extensions (LynxIndex
    /// keeps its row chunk source here: `rowSource`). The reader itself never looks at it.
    public var attachment: (any Sendable)?

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    @inline(__always)
    mutating func need(_ n: Int) throws {
        if n < 0 || n > bytes.count - offset {
            throw BinaryDecodingError.truncated(offset: offset, needed: n, available: bytes.count - offset)
        }
    }

    @inline(__always)
    mutating func readLE<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let n = MemoryLayout<T>.size
        try need(n)
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += n
        return T(littleEndian: v)
    }

    public mutating func readUInt8() throws -> UInt8 { try readLE(UInt8.self) }
    public mutating func readUInt16() throws -> UInt16 { try readLE(UInt16.self) }
    public mutating func readUInt32() throws -> UInt32 { try readLE(UInt32.self) }
    public mutating func readUInt64() throws -> UInt64 { try readLE(UInt64.self) }
    public mutating func readInt() throws -> Int {
        let v = Int64(bitPattern: try readLE(UInt64.self))
        guard let i = Int(exactly: v) else { throw BinaryDecodingError.corrupt("integer \(v) out of range") }
        return i
    }
    public mutating func readFloat() throws -> Float { Float(bitPattern: try readLE(UInt32.self)) }

    /// Peeks at a UInt32 without consuming it.
    public func peekUInt32() throws -> UInt32 {
        var copy = self
        return try copy.readUInt32()
    }

    public mutating func readFloats(count: Int) throws -> [Float] {
        #if _endian(little)
        return try rawCopy(count, Float.self)
        #else
        let raw: [UInt32] = try rawCopy(count, UInt32.self)
        return raw.map { Float(bitPattern: UInt32(littleEndian: $0)) }
        #endif
    }
    public mutating func readUInt32s(count: Int) throws -> [UInt32] { try integers(count) }
    public mutating func readUInt64s(count: Int) throws -> [UInt64] { try integers(count) }
    public mutating func readUInt8s(count: Int) throws -> [UInt8] { try integers(count) }

    mutating func integers<T: FixedWidthInteger>(_ count: Int) throws -> [T] {
        var out = try rawCopy(count, T.self)
        #if _endian(big)
        for i in out.indices { out[i] = T(littleEndian: out[i]) }
        #endif
        _ = { out }  // silence 'never mutated' on little-endian builds
        return out
    }

    /// Bulk copy of `count` trivially-copyable elements.
    mutating func rawCopy<T>(_ count: Int, _: T.Type) throws -> [T] {
        let (total, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        if count < 0 || overflow { throw BinaryDecodingError.corrupt("bad element count \(count)") }
        try need(total)
        let start = offset
        let out = [T](unsafeUninitializedCapacity: count) { buf, initialized in
            if total > 0 {
                bytes.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(buf).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: src[start..<start + total]))
                }
            }
            initialized = count
        }
        offset += total
        return out
    }
}
