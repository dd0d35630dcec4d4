// Little-endian loads and stores at byte offsets, for the on-disk and wire formats (all multi-byte integers are
// little-endian). `BinaryWriter` and `BinaryReader` build on the same rule for sequential coding; these are for
// fixed layouts read or written in place (frame headers, file headers).

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always) public func storeLE(_ v: UInt16, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt16.self) }
    @inlinable @inline(__always) public func storeLE(_ v: UInt32, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self) }
    @inlinable @inline(__always) public func storeLE(_ v: UInt64, at o: Int) { storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self) }
}

extension UnsafeRawPointer {
    @inlinable @inline(__always) public func loadLE16(at o: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inlinable @inline(__always) public func loadLE32(at o: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    @inlinable @inline(__always) public func loadLE64(at o: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
}

/// Little-endian integers read out of a byte array; the caller has checked that the bytes are there.
extension Array where Element == UInt8 {
    public func le32(at o: Int) -> UInt32 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE32(at: o) } }
    public func le64(at o: Int) -> UInt64 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE64(at: o) } }
    public func le16(at o: Int) -> UInt16 { withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).loadLE16(at: o) } }
}
