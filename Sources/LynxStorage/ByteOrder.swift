// Little-endian load/store helpers for the on-disk formats (all multi-byte integers are little-endian).

extension UnsafeMutableRawPointer {
    @inline(__always) func storeLE(_ v: UInt16, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt16.self) }
    @inline(__always) func storeLE(_ v: UInt32, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self) }
    @inline(__always) func storeLE(_ v: UInt64, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self) }
}

extension UnsafeRawPointer {
    @inline(__always) func loadLE16(at o: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inline(__always) func loadLE32(at o: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    @inline(__always) func loadLE64(at o: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
}

/// A growable byte buffer for building small files and messages (manifest, snapshot headers, replication
/// batches) in little-endian order.
public struct ByteWriter {
    public var bytes: [UInt8] = []
    public init() {}
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
}

/// Little-endian integers read out of a byte array; the caller has checked that the bytes are there.
extension Array where Element == UInt8 {
    public func le32(at o: Int) -> UInt32 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE32(at: o) } }
    public func le64(at o: Int) -> UInt64 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE64(at: o) } }
    public func le16(at o: Int) -> UInt16 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE16(at: o) } }
}
