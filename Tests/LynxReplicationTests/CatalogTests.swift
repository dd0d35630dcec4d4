import XCTest
import LynxEngine
import LynxIndex
import LynxReplication

/// The catalog carries each collection's index with its parameters, so a follower makes the same store.
final class CatalogTests: XCTestCase {
    func testEntriesCarryTheIndexSpecification() throws {
        let body = #"""
            {"term": 4, "collections": [
              {"name": "g", "store_id": 11, "dimension": 8, "metric": "cosine", "index": "hnsw", "m": 8, "ef_construction": 64},
              {"name": "v", "store_id": 12, "dimension": 3, "metric": "l2", "index": "ivf", "n_clusters": 5},
              {"name": "f", "store_id": 13, "dimension": 2, "metric": "dot", "index": "flat"},
              {"name": "q", "store_id": 14, "dimension": 4, "metric": "l2", "index": "hnsw", "quantization": "sq8", "on_disk": true},
              {"name": "r", "store_id": 15, "dimension": 4, "metric": "dot", "index": "hnsw", "quantization": "rabitq:3"}]}
            """#
        let catalog = try Catalog.decode(Array(body.utf8))
        XCTAssertEqual(catalog.term, 4)
        XCTAssertEqual(catalog.entries.map(\.settings.index),
                       [.hnsw(m: 8, efConstruction: 64), .ivf(clusters: 5, spill: IndexParameter.spill.defaultValue), .flat,
                        .hnsw(m: 16, efConstruction: 200, quantization: .sq8, onDisk: true),
                        .hnsw(m: 16, efConstruction: 200, quantization: .rabitq(bits: 3))])
        XCTAssertEqual(catalog.entries[0].settings.creationSettings,
                       CollectionSettings(dimension: 8, metric: .cosine, index: .hnsw,
                                          parameters: IndexParameters(m: 8, efConstruction: 64, quantization: Quantization.none, onDisk: false)))
        XCTAssertEqual(try Catalog.decode(catalog.json()), catalog)
        let again = try XCTUnwrap(String(validating: catalog.json(), as: UTF8.self))
        XCTAssertTrue(again.contains(#""index":"ivf","n_clusters":5,"spill":1}"#), again)
        XCTAssertTrue(again.contains(#""ef_construction":200,"quantization":"sq8","on_disk":true}"#), again)
        XCTAssertFalse(again.contains(#""on_disk":false"#), "a store in memory is written as before")
        let notBoolean = body.replacingOccurrences(of: #""on_disk": true"#, with: #""on_disk": "yes""#)
        XCTAssertThrowsError(try Catalog.decode(Array(notBoolean.utf8)))
        XCTAssertTrue(again.contains(#""ef_construction":200,"quantization":"rabitq:3"}"#), again)
        XCTAssertFalse(again.contains(#""quantization":"none""#), "a store without codes is written as before")
        let unknown = body.replacingOccurrences(of: #""quantization": "sq8""#, with: #""quantization": "pq""#)
        XCTAssertThrowsError(try Catalog.decode(Array(unknown.utf8)))
        for bad in ["rabitq:9", "rabitq:0", "rabitq", "rabitq:"] {
            let outOfRange = body.replacingOccurrences(of: #""quantization": "rabitq:3""#, with: "\"quantization\": \"\(bad)\"")
            XCTAssertThrowsError(try Catalog.decode(Array(outOfRange.utf8)), bad)
        }
    }
}
