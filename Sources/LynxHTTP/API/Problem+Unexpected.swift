import LynxStorage

extension Problem {
    /// 500 for an error of no type the API maps (`Problem(_:batch:)`). Its text is not sent: the
    /// errors of the layers below name server files (`StorageError`'s does, from its `SyscallFailure`), so a
    /// storage error says what failed without them and any other only its type. Callers log the full error.
    static func unexpected(_ error: any Error) -> Problem {
        if let storage = error as? StorageError { return .internalError(storage.summary) }
        return .internalError("an unexpected error (\(type(of: error))); the server's log has its details")
    }
}
