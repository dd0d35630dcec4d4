/// Why a collection operation was refused. The HTTP layer maps each case to one problem type.
public enum CollectionError: Error, Equatable, Sendable {
    case invalidName(String)
    /// A parameter that the collection's index kind does not have.
    case invalidSetting(CollectionSettings.Setting, String)
    case settingOutOfRange(CollectionSettings.Setting, String)
    case notFound(CollectionName)
    /// The collection exists with other settings (`existing`), so it was not changed.
    case conflict(CollectionName, existing: StoredCollectionSettings)
    /// The default collection serves the single-store routes; it cannot be deleted.
    case protected(CollectionName)
    /// `limit` collections exist already.
    case tooMany(limit: Int)
    /// This node takes no client writes now (`WriteGate`): another node leads. Nothing was changed.
    case writeRefused(WriteRefusal)
    /// The catalog's files could not be changed (disk full, I/O error): nothing was changed.
    case storage(String)
}
