import Foundation
import LynxCluster
import XCTest

/// A single-member etcd on two free loopback ports with its data in a temporary folder, for one test class.
/// `start` throws XCTSkip when `etcd` is not on PATH (scripts/install-deps.sh --test installs it).
final class EtcdProcess {
    let clientURL: String
    private let process: Process
    private let folder: URL

    private init(process: Process, folder: URL, clientURL: String) {
        self.process = process
        self.folder = folder
        self.clientURL = clientURL
    }

    static func start() throws -> EtcdProcess {
        guard let etcd = findOnPath("etcd") else {
            let why = "etcd is not on PATH (scripts/install-deps.sh --test installs etcd-server)"
            print("skipping: \(why)")
            throw XCTSkip(why)
        }
        // A port picked free can be taken before etcd binds it: a few attempts.
        var lastLog = ""
        for _ in 0..<3 {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lynx-etcd-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let client = "http://127.0.0.1:\(LoopbackSockets.freePort())"
            let peer = "http://127.0.0.1:\(LoopbackSockets.freePort())"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: etcd)
            process.arguments = [
                "--name", "test", "--data-dir", folder.appendingPathComponent("data").path,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=\(peer)",
            ]
            let log = folder.appendingPathComponent("etcd.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            let started = EtcdProcess(process: process, folder: folder, clientURL: client)
            if started.waitHealthy(seconds: 10) { return started }
            lastLog = (try? String(contentsOf: log, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
            started.stop()
        }
        throw EtcdError("etcd did not become healthy; its log ends:\n\(lastLog)")
    }

    private func waitHealthy(seconds: Double) -> Bool {
        let http = HTTPClient(connectTimeoutSeconds: 0.5)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && process.isRunning {
            if let response = try? http.request("GET", clientURL + "/health", timeoutSeconds: 1),
               response.status == 200, String(decoding: response.body, as: UTF8.self).contains("\"true\"") {
                return true
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// SIGTERM, then SIGKILL if it is still running after 5 s; removes the data folder.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
