import LynxSupport

/// The byte form of a metadata field path inside log frames (docs/STORAGE_FORMATS.md, operations 3 and 4): u16 component
/// count (at least 1), then per component a u16 byte length and that many bytes of UTF-8, all little-endian.
enum FieldPathCoding {
    static func size(_ path: [String]) -> Int {
        2 + path.reduce(0) { $0 + 2 + $1.utf8.count }
    }

    /// Writes `path` at `p` (which holds `size(path)` bytes); returns the bytes written.
    static func store(_ path: [String], at p: UnsafeMutableRawPointer) -> Int {
        p.storeLE(UInt16(truncatingIfNeeded: path.count), at: 0)
        var off = 2
        for component in path {
            let bytes = Array(component.utf8)
            p.storeLE(UInt16(truncatingIfNeeded: bytes.count), at: off)
            bytes.withUnsafeBytes { src in
                if let b = src.baseAddress { (p + off + 2).copyMemory(from: b, byteCount: bytes.count) }
            }
            off += 2 + bytes.count
        }
        return off
    }

    /// The path stored in exactly `len` bytes at `p`; nil unless they hold one path, nothing after it, valid UTF-8.
    static func load(_ p: UnsafeRawPointer, _ len: Int) -> [String]? {
        guard len >= 2 else { return nil }
        let count = Int(p.loadLE16(at: 0))
        guard count >= 1 else { return nil }
        var off = 2
        var path: [String] = []
        for _ in 0..<count {
            guard off + 2 <= len else { return nil }
            let n = Int(p.loadLE16(at: off))
            guard off + 2 + n <= len,
                  let component = String(validating: UnsafeRawBufferPointer(start: p + off + 2, count: n), as: UTF8.self)
            else { return nil }
            path.append(component)
            off += 2 + n
        }
        return off == len ? path : nil
    }
}
