// ClientConnection+Application: the client's slot in the ApplicationBook, and what the relay records there.

extension ClientConnection {
    /// Records a duration in one of the client's per-application histograms (an index, two counter adds on its own worker's block).
    @inline(__always) func recordApplication(_ histogram: ApplicationBook.Histogram, milliseconds: UInt64) {
        runtime.applications.record(histogram, nanoseconds: Int64(clamping: milliseconds) &* 1_000_000,
                                    slot: applicationSlot, worker: runtime.worker)
    }

    /// A ParameterStatus passed through: a new `application_name` (after `SET application_name`)
    /// moves the client's numbers to that name from now on.
    func applicationParameterReported(name: String, value: String) {
        guard name.utf8.count == 16, name.lowercased() == "application_name", value != applicationName else { return }
        applicationName = value
        applicationSlot = runtime.applications.resolve(value, now: runtime.loop.now, worker: runtime.worker)
    }

    /// The janitor's check: an active client whose slot's entry went to another name gets its
    /// name's entry again (the entry is replaced only when its name was the least busy).
    func refreshApplicationSlot(now: UInt64) {
        guard pool != nil, !runtime.applications.isCurrent(applicationSlot), now &- lastReadAt < 2_000 else { return }
        applicationSlot = runtime.applications.resolve(applicationName, now: now, worker: runtime.worker)
    }
}
