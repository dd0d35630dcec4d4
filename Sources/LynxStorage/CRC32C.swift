import CCRC32C

/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78, init/xorout 0xFFFFFFFF):
/// the checksum of iSCSI, ext4 metadata, LevelDB and RocksDB. Hardware `crc32` instruction on x86-64 with
/// SSE4.2 (detected at run time), slicing-by-8 software otherwise. `CRC32C.checksum("123456789") == 0xE3069283`.
public enum CRC32C {
    /// Continues `crc` (a finished CRC value; 0 = empty) over `bytes`:
    /// `extend(extend(0, a), b) == checksum(a ++ b)`.
    @inlinable
    public static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return lynx_crc32c_extend(crc, base, bytes.count)
    }

    public static func extend(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { extend(crc, $0) }
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { extend(0, bytes) }

    /// The checksum of `a ++ b` from `checksum(a)`, `checksum(b)` and `b`'s length, in O(log length) without
    /// touching the bytes: one pass over data that needs both its own checksum and a running one.
    public static func combine(_ crcA: UInt32, _ crcB: UInt32, lengthB: UInt64) -> UInt32 {
        lynx_crc32c_combine(crcA, crcB, lengthB)
    }

    /// The software path only (to check it against the hardware path).
    public static func extendSoftware(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress, b.count > 0 else { return crc }
            return lynx_crc32c_extend_sw(crc, base, b.count)
        }
    }

    /// True when the SSE4.2 instruction is in use.
    public static var usesHardware: Bool { lynx_crc32c_hardware() != 0 }
}
