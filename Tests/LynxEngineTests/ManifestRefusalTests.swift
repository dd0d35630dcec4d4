import Foundation
import LynxEngine
import LynxStorage
import XCTest

/// A manifest whose checksum holds but whose settings no store could have been made with (hand-edited: rabitq at a
/// dimension its rotation is not made for) is refused with the reason when the store opens, instead of trapping
/// as the index is made.
final class ManifestRefusalTests: EngineTestCase {
    func testSettingsNoStoreCanHaveAreRefusedWithTheReason() throws {
        let dir = newDir()
        try open(dir, index: .hnsw, dimension: 4096).close(checkpoint: false)
        var manifest = try XCTUnwrap(try Manifest.load(dir: dir))
        manifest.parameters["quantization"] = "rabitq:4"
        try Data(manifest.encoded().utf8).write(to: URL(fileURLWithPath: dir + "/" + Manifest.fileName))
        XCTAssertThrowsError(try open(dir, index: .hnsw, dimension: 4096)) { error in
            XCTAssertTrue("\(error)".contains("MANIFEST: rabitq is for dimensions up to 2048, not 4096"), "\(error)")
        }
        manifest.parameters["quantization"] = nil
        try Data(manifest.encoded().utf8).write(to: URL(fileURLWithPath: dir + "/" + Manifest.fileName))
        try open(dir, index: .hnsw, dimension: 4096).close(checkpoint: false)
    }
}
