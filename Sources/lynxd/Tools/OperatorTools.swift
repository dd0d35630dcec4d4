// The operator subcommands of lynxd (`lynxd check`, `lynxd dump-wal`, read-only; `lynxd restore`): tools run on a
// data directory instead of the server. Each is its own ArgumentParser command; main.swift hands over to them before it parses
// the server's flags.
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses of the operator tools.
enum ToolExit {
    /// Healthy (check) / dumped, no damage found (dump-wal).
    static let healthy: Int32 = 0
    /// Damage found.
    static let damage: Int32 = 1
    /// A usage mistake: unknown flag, no such directory or collection, not a Lynx data directory.
    static let usage: Int32 = 2
}

/// Runs the subcommand `arguments[0]` names with the rest of the arguments, and exits; returns when it names none.
func runOperatorToolIfNamed(_ arguments: [String]) {
    let tools: [String: any ParsableCommand.Type] = [
        "check": CheckCommand.self, "dump-wal": DumpWALCommand.self, "restore": RestoreCommand.self,
    ]
    guard let name = arguments.first, let tool = tools[name] else { return }
    let rest = Array(arguments.dropFirst())
    do {
        var command = try tool.parse(rest)
        try command.run()
        exit(0)
    } catch let exit as ExitCode {
        Glibc.exit(exit.rawValue)
    } catch {
        let code = tool.exitCode(for: error)
        if code == .success {
            print(tool.fullMessage(for: error))
            exit(0)
        }
        let message = tool.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        fputs("lynxd \(name): \(message) (see lynxd \(name) --help)\n", stderr)
        exit(ToolExit.usage)
    }
}

/// One line on stderr, then exit with the usage status.
func toolUsageFailure(_ tool: String, _ message: String) -> Never {
    fputs("lynxd \(tool): \(message)\n", stderr)
    exit(ToolExit.usage)
}

/// Writes to stdout as it goes (a dump can be long).
func printLine(_ line: String) {
    fputs(line + "\n", stdout)
}
