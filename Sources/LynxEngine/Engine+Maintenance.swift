import Dispatch

extension Engine {
    /// Runs `work` as this store's maintenance (a checkpoint or rebuild asked for, a backup, a durability
    /// checkpoint without a log): one job at a time per store, on a thread of the system's pool, never the
    /// caller's. Jobs of different stores run side by side, so one store's long backup holds up only its own
    /// next job, not another store's or a collection's creation (`Database.scheduleCatalogChange`).
    public func scheduleMaintenance(_ work: @escaping @Sendable () -> Void) {
        maintenanceQueue.async(execute: work)
    }
}
