import LynxSupport

/// The prefix every serialized index layout starts with (docs/INDEXES.md): u32 magic, u32 format version,
/// u32 dimension, u8 metric code. Each index writes its own fields after it.
/// The dimensions an index may have: a store's (`CollectionSettings.dimensionRange`), and what a decoder accepts
/// before it sizes anything by the dimension.
public let indexDimensionRange = 1...65_536

extension BinaryWriter {
    mutating func writeIndexHeader(magic: UInt32, version: UInt32, dimension: Int, metric: Metric) {
        write(magic)
        write(version)
        write(UInt32(dimension))
        write(metricCode(metric))
    }
}

extension BinaryReader {
    /// Reads and checks the prefix: magic, version, and a dimension within `indexDimensionRange` (a damaged one
    /// would size the rows read next).
    mutating func readIndexHeader(magic expected: UInt32, version expectedVersion: UInt32, kind: String) throws
        -> (dimension: Int, metric: Metric)
    {
        let h = try readIndexHeader(magic: expected, versions: expectedVersion...expectedVersion, kind: kind)
        return (h.dimension, h.metric)
    }

    /// As above, for a layout that still reads older versions: returns the version found.
    mutating func readIndexHeader(magic expected: UInt32, versions: ClosedRange<UInt32>, kind: String) throws
        -> (dimension: Int, metric: Metric, version: UInt32)
    {
        let magic = try readUInt32()
        guard magic == expected else { throw BinaryDecodingError.badMagic(found: magic) }
        let version = try readUInt32()
        guard versions.contains(version) else { throw BinaryDecodingError.unsupportedVersion(kind: kind, version: version) }
        let dimension = Int(try readUInt32())
        guard indexDimensionRange.contains(dimension) else {
            throw BinaryDecodingError.corrupt("dimension \(dimension) is out of range \(indexDimensionRange.lowerBound)...\(indexDimensionRange.upperBound)")
        }
        let metric = try decodeMetric(try readUInt8())
        return (dimension, metric, version)
    }
}

@inline(__always)
func metricCode(_ m: Metric) -> UInt8 {
    switch m {
    case .l2: return 0
    case .cosine: return 1
    case .dot: return 2
    }
}

func decodeMetric(_ c: UInt8) throws -> Metric {
    switch c {
    case 0: return .l2
    case 1: return .cosine
    case 2: return .dot
    default: throw BinaryDecodingError.corrupt("unknown metric code \(c)")
    }
}
