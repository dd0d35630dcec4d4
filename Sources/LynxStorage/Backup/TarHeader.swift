/// One 512-byte POSIX ustar header block (POSIX.1-1988 as refined by POSIX.1-2001, `pax` "ustar" format),
/// the subset backups use: regular files and directories, names of at most 100 bytes (the `prefix` field
/// stays empty), owner 0:0, no link names. docs/BACKUP.md has the byte layout.
///
/// Sizes below 8 GiB are 11 octal digits; larger sizes use the base-256 form GNU tar, bsdtar and star read
/// (first byte 0x80, the size big-endian in the other 11 bytes), since ustar's octal field stops at 8 GiB − 1.
public struct TarHeader: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case file = 0x30       // '0'
        case directory = 0x35  // '5'
    }

    public static let blockSize = 512
    static let nameLength = 100
    static let octalSizeLimit: UInt64 = 1 << 33  // 8 GiB: 11 octal digits hold up to 8^11 − 1

    public var name: String
    public var kind: Kind
    public var size: UInt64
    public var modificationTime: UInt64

    public init(name: String, kind: Kind, size: UInt64, modificationTime: UInt64) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modificationTime = modificationTime
    }

    /// The 512 bytes of this header.
    public func encoded() throws -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= Self.nameLength, !nameBytes.contains(0) else {
            throw StorageError.invalidArgument("tar entry name '\(name)' must be 1 to 100 bytes")
        }
        var b = [UInt8](repeating: 0, count: Self.blockSize)
        b.replaceSubrange(0..<nameBytes.count, with: nameBytes)
        put(&b, 100, Self.octal(kind == .directory ? 0o755 : 0o644, width: 8))      // mode
        put(&b, 108, Self.octal(0, width: 8))                                       // uid
        put(&b, 116, Self.octal(0, width: 8))                                       // gid
        put(&b, 124, Self.sizeField(size))                                          // size
        put(&b, 136, Self.octal(modificationTime, width: 12))                       // mtime
        put(&b, 148, [UInt8](repeating: 0x20, count: 8))                            // chksum: spaces while summing
        b[156] = kind.rawValue                                                      // typeflag
        put(&b, 257, Array("ustar\0".utf8))                                         // magic
        put(&b, 263, Array("00".utf8))                                              // version
        put(&b, 329, Self.octal(0, width: 8))                                       // devmajor
        put(&b, 337, Self.octal(0, width: 8))                                       // devminor
        let sum = b.reduce(0) { $0 + UInt64($1) }
        put(&b, 148, Array(Self.octalDigits(sum, count: 6).utf8) + [0, 0x20])
        return b
    }

    /// Parses a header block. Throws `.corrupt` for anything the writer would not have written.
    public static func decode(_ b: [UInt8]) throws -> TarHeader {
        precondition(b.count == blockSize)
        func corrupt(_ why: String) -> StorageError { .corrupt("tar header: \(why)") }
        guard Array(b[257..<263]) == Array("ustar\0".utf8), Array(b[263..<265]) == Array("00".utf8) else {
            throw corrupt("not a POSIX ustar header")
        }
        var spaced = b
        spaced.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
        let sum = spaced.reduce(0) { $0 + UInt64($1) }
        // Exactly as written (six digits, NUL, space): the checksum does not cover its own field.
        guard b[154] == 0, b[155] == 0x20, let stored = parseOctal(b[148..<154]), stored == sum else {
            throw corrupt("header checksum mismatch")
        }
        guard let kind = Kind(rawValue: b[156]) else { throw corrupt("entry type \(b[156]) is neither a file nor a directory") }
        guard b[345..<500].allSatisfy({ $0 == 0 }) else { throw corrupt("a name prefix is not supported") }
        let nameBytes = b[0..<nameLength].prefix { $0 != 0 }
        guard !nameBytes.isEmpty, let name = String(validating: Array(nameBytes), as: UTF8.self) else {
            throw corrupt("the entry name is empty or not UTF-8")
        }
        guard let size = parseSize(b[124..<136]) else { throw corrupt("bad size field of '\(name)'") }
        guard let mtime = parseOctal(b[136..<148]) else { throw corrupt("bad mtime field of '\(name)'") }
        return TarHeader(name: name, kind: kind, size: size, modificationTime: mtime)
    }

    /// Bytes of padding after `size` bytes of entry data, up to the next block.
    public static func padding(after size: UInt64) -> Int {
        Int((UInt64(blockSize) - size % UInt64(blockSize)) % UInt64(blockSize))
    }

    // MARK: - Fields

    static func sizeField(_ size: UInt64) -> [UInt8] {
        if size < octalSizeLimit { return octal(size, width: 12) }
        var field = [UInt8](repeating: 0, count: 12)
        field[0] = 0x80
        for i in 0..<8 { field[11 - i] = UInt8(truncatingIfNeeded: size >> (8 * UInt64(i))) }
        return field
    }

    static func parseSize(_ field: ArraySlice<UInt8>) -> UInt64? {
        guard field.first == 0x80 else { return parseOctal(field) }
        let bytes = Array(field.dropFirst())
        guard bytes.prefix(3).allSatisfy({ $0 == 0 }) else { return nil }  // over 2^64
        return bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// `width − 1` octal digits, zero-padded, then a NUL.
    static func octal(_ value: UInt64, width: Int) -> [UInt8] {
        Array(octalDigits(value, count: width - 1).utf8) + [0]
    }

    static func octalDigits(_ value: UInt64, count: Int) -> String {
        let digits = String(value, radix: 8)
        return String(repeating: "0", count: max(0, count - digits.count)) + digits
    }

    /// Octal digits, optionally led by spaces and ended by NUL or space (as tar writers do).
    static func parseOctal(_ field: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        var seen = false
        var ended = false
        for byte in field {
            if ended {
                guard byte == 0 || byte == 0x20 else { return nil }
            } else if byte >= 0x30 && byte <= 0x37 {
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
                guard !overflow else { return nil }
                value = shifted | UInt64(byte - 0x30)
                seen = true
            } else if byte == 0x20 && !seen {
                continue
            } else if byte == 0 || byte == 0x20 {
                ended = true
            } else {
                return nil
            }
        }
        return seen ? value : nil
    }

    private func put(_ b: inout [UInt8], _ offset: Int, _ bytes: [UInt8]) {
        b.replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }
}
