import LynxIndex
import XCTest

/// The index specification: defaults, ranges, validation and the manifest's key-value form, which stores on disk
/// already hold (the keys and values must never change).
final class IndexSpecTests: XCTestCase {
    func testDefaultsFillWhatIsNotGiven() {
        XCTAssertEqual(IndexSpec(kind: .flat), .flat)
        XCTAssertEqual(IndexSpec(kind: .hnsw), .hnsw(m: 16, efConstruction: 200))
        XCTAssertEqual(IndexSpec(kind: .ivf), .ivf(clusters: 0, spill: 1))
        XCTAssertEqual(IndexSpec(kind: .hnsw, IndexParameters(m: 8)), .hnsw(m: 8, efConstruction: 200))
        // Parameters of another index are not the spec's.
        XCTAssertEqual(IndexSpec(kind: .flat, IndexParameters(m: 8, spill: 0)), .flat)
        XCTAssertEqual(IndexSpec(kind: .ivf, IndexParameters(m: 8, spill: 0)), .ivf(clusters: 0, spill: 0))
    }

    /// The manifest lines of stores made with the defaults, as every data directory since format 1 has them.
    func testManifestFormIsTheStoredOne() {
        XCTAssertEqual(IndexSpec.flat.manifestParameters, [:])
        XCTAssertEqual(IndexSpec(kind: .hnsw).manifestParameters, ["m": "16", "ef_construction": "200"])
        XCTAssertEqual(IndexSpec(kind: .ivf).manifestParameters, ["n_clusters": "0", "spill": "1"])
        for spec in [IndexSpec.flat, .hnsw(m: 5, efConstruction: 77), .ivf(clusters: 12, spill: 0)] {
            XCTAssertEqual(IndexSpec(kind: spec.kind, manifestParameters: spec.manifestParameters), spec)
            XCTAssertEqual(IndexSpec(kind: spec.kind, spec.parameters), spec)
        }
    }

    /// An IVF directory made before spill existed has no such line and keeps plain IVF-Flat; other missing lines
    /// take the defaults; a value beyond the range is clamped.
    func testManifestWithoutAKey() {
        XCTAssertEqual(IndexSpec(kind: .ivf, manifestParameters: ["n_clusters": "0"]), .ivf(clusters: 0, spill: 0))
        XCTAssertEqual(IndexSpec(kind: .hnsw, manifestParameters: [:]), .hnsw(m: 16, efConstruction: 200))
        XCTAssertEqual(IndexSpec(kind: .ivf, manifestParameters: ["n_clusters": "3", "spill": "7"]), .ivf(clusters: 3, spill: 1))
    }

    func testOnlyTheGivenParametersOfTheKindMustMatchAStore() {
        let given = IndexParameters(m: 8, clusters: 4)
        XCTAssertEqual(given.manifestParameters(for: .hnsw), ["m": "8"])
        XCTAssertEqual(given.manifestParameters(for: .ivf), ["n_clusters": "4"])
        XCTAssertEqual(given.manifestParameters(for: .flat), [:])
    }

    /// Ranges first (in parameter order), then parameters of another index; the reasons are the texts the HTTP
    /// problems and the flags' errors show.
    func testValidation() {
        func error(_ p: IndexParameters, _ kind: IndexKind?) -> IndexParameterError? {
            do { try p.validate(for: kind) } catch { return error }
            return nil
        }
        XCTAssertNil(error(IndexParameters(m: 2, efConstruction: 10_000, clusters: 1_000_000, spill: 0), nil))
        XCTAssertEqual(error(IndexParameters(m: 1), .hnsw), .outOfRange(.m, 1))
        XCTAssertEqual(error(IndexParameters(m: 1), .hnsw)?.reason, "1 is out of range 2...128")
        XCTAssertEqual(error(IndexParameters(efConstruction: 0, spill: 2), .hnsw), .outOfRange(.efConstruction, 0))
        XCTAssertEqual(error(IndexParameters(spill: 2), .ivf)?.reason, "2 is out of range 0...1")
        XCTAssertEqual(error(IndexParameters(clusters: -1), .ivf)?.reason, "-1 is out of range 0...1000000")
        XCTAssertEqual(error(IndexParameters(m: 8), .flat), .ofAnotherIndex(.m, .flat))
        XCTAssertEqual(error(IndexParameters(m: 8), .flat)?.reason, "is a parameter of the hnsw index, not of flat")
        XCTAssertEqual(error(IndexParameters(spill: 5), .flat), .outOfRange(.spill, 5))
        XCTAssertNil(error(IndexParameters(m: 8, spill: 1), nil))
    }

    /// A store with codes records its quantization; one without records nothing (as every store before codes).
    func testQuantizationIsRecordedOnlyWhenThereAreCodes() {
        let sq8 = IndexSpec.hnsw(m: 16, efConstruction: 200, quantization: .sq8)
        XCTAssertEqual(sq8.manifestParameters, ["m": "16", "ef_construction": "200", "quantization": "sq8"])
        XCTAssertEqual(IndexSpec(kind: .hnsw, manifestParameters: sq8.manifestParameters), sq8)
        XCTAssertEqual(IndexSpec(kind: .hnsw, sq8.parameters), sq8)
        XCTAssertEqual(IndexSpec(kind: .hnsw, manifestParameters: ["quantization": "pq"]).quantization, .none)
        XCTAssertEqual(IndexSpec(kind: .flat, IndexParameters(quantization: .sq8)), .flat)
        // Asked for: none as an absent key, sq8 as itself; not asked for: nothing.
        XCTAssertEqual(IndexParameters(quantization: Quantization.none).manifestParameters(for: .hnsw), ["quantization": ""])
        XCTAssertEqual(IndexParameters(quantization: .sq8).manifestParameters(for: .hnsw), ["quantization": "sq8"])
        XCTAssertEqual(IndexParameters().manifestParameters(for: .hnsw), [:])
        func error(_ p: IndexParameters, _ kind: IndexKind) -> IndexParameterError? {
            do { try p.validate(for: kind) } catch { return error }
            return nil
        }
        XCTAssertEqual(error(IndexParameters(quantization: .sq8), .flat), .quantizationNotFor(.flat))
        XCTAssertEqual(error(IndexParameters(quantization: .sq8), .ivf)?.reason, "other than none is for the hnsw index, not ivf")
        XCTAssertEqual(error(IndexParameters(quantization: .sq8), .ivf)?.key, "quantization")
        XCTAssertNil(error(IndexParameters(quantization: Quantization.none), .flat))
        XCTAssertNil(error(IndexParameters(quantization: .sq8), .hnsw))
    }

    /// A store with its vectors on disk records it; one without records nothing. Only HNSW may have it.
    func testOnDiskIsRecordedOnlyWhenTrue() {
        let onDisk = IndexSpec.hnsw(m: 16, efConstruction: 200, quantization: .sq8, onDisk: true)
        XCTAssertEqual(onDisk.manifestParameters, ["m": "16", "ef_construction": "200", "quantization": "sq8", "on_disk": "true"])
        XCTAssertEqual(IndexSpec(kind: .hnsw, manifestParameters: onDisk.manifestParameters), onDisk)
        XCTAssertEqual(IndexSpec(kind: .hnsw, onDisk.parameters), onDisk)
        XCTAssertFalse(IndexSpec(kind: .hnsw).onDisk)
        XCTAssertEqual(IndexSpec(kind: .hnsw).manifestParameters["on_disk"], nil)
        XCTAssertEqual(IndexParameters(onDisk: false).manifestParameters(for: .hnsw), ["on_disk": ""])
        XCTAssertEqual(IndexParameters(onDisk: true).manifestParameters(for: .hnsw), ["on_disk": "true"])
        XCTAssertThrowsError(try IndexParameters(onDisk: true).validate(for: .flat)) { error in
            XCTAssertEqual(error as? IndexParameterError, .onDiskNotFor(.flat))
            XCTAssertEqual((error as? IndexParameterError)?.key, "on_disk")
        }
        XCTAssertNoThrow(try IndexParameters(onDisk: false).validate(for: .ivf))
        XCTAssertNoThrow(try IndexParameters(onDisk: true).validate(for: .hnsw))
    }

    /// rabitq's bits travel in its text form, `rabitq:B`, the one form of the manifest, the catalog and the flags.
    func testRaBitQIsRecordedWithItsBits() {
        let spec = IndexSpec.hnsw(m: 16, efConstruction: 200, quantization: .rabitq(bits: 5))
        XCTAssertEqual(spec.manifestParameters, ["m": "16", "ef_construction": "200", "quantization": "rabitq:5"])
        XCTAssertEqual(IndexSpec(kind: .hnsw, manifestParameters: spec.manifestParameters), spec)
        XCTAssertEqual(IndexParameters(quantization: .rabitq(bits: 1)).manifestParameters(for: .hnsw), ["quantization": "rabitq:1"])
        for bits in 1...8 { XCTAssertEqual(Quantization(text: "rabitq:\(bits)"), .rabitq(bits: bits)) }
        for text in ["rabitq", "rabitq:0", "rabitq:9", "rabitq:x", "rabitq:4 ", "RABITQ:4", "pq"] { XCTAssertNil(Quantization(text: text), text) }
        XCTAssertEqual(Quantization.rabitq(bits: 2).type, "rabitq")
        XCTAssertEqual(Quantization.rabitq(bits: 2).text, "rabitq:2")
        XCTAssertNil(Quantization.rabitq(bits: 2).refusal(dimension: 2048))
        XCTAssertEqual(Quantization.rabitq(bits: 2).refusal(dimension: 2049), "rabitq is for dimensions up to 2048, not 2049")
        XCTAssertNil(Quantization.sq8.refusal(dimension: 65_536))
    }

    func testEveryParameterBelongsToOneIndex() {
        XCTAssertEqual(IndexParameter.of(.hnsw), [.m, .efConstruction])
        XCTAssertEqual(IndexParameter.of(.ivf), [.clusters, .spill])
        XCTAssertEqual(IndexParameter.of(.flat), [])
        for p in IndexParameter.allCases { XCTAssertTrue(p.range.contains(p.defaultValue), "\(p)") }
    }
}
