import XCTest

/// Test classes that talk to a real etcd: one is started on first use and stopped after the class's tests.
class EtcdTestCase: XCTestCase {
    private static var running: EtcdProcess?

    /// The client URL of the running etcd (started now if need be); throws XCTSkip without etcd.
    func etcdURL() throws -> String {
        if let running = EtcdTestCase.running { return running.clientURL }
        let started = try EtcdProcess.start()
        EtcdTestCase.running = started
        return started.clientURL
    }

    override class func tearDown() {
        EtcdTestCase.running?.stop()
        EtcdTestCase.running = nil
        super.tearDown()
    }

    /// Keys of their own for each test, so the tests share one etcd without seeing each other's keys.
    func uniqueKey(_ name: String) -> String { "/lynx-test/\(UUID().uuidString)/\(name)" }
}
