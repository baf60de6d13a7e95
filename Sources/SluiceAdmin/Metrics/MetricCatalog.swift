// MetricCatalog: the name and help text of every metric SluiceMetrics writes (one help per name, always).
import Prometheus
import SluiceCore

/// A metric family Sluice exports from snapshots.
struct MetricName: Hashable {
    var name: String
    var help: String

    var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

enum MetricCatalog {
    // Gauges.
    static let clients = MetricName(name: "sluice_clients", help: "Client connections by pool and state.")
    static let servers = MetricName(name: "sluice_servers", help: "Server (upstream) connections by pool and state.")
    static let poolSize = MetricName(name: "sluice_pool_size", help: "Largest number of server connections of the pool.")
    static let poolMinSize = MetricName(name: "sluice_pool_min_size", help: "Server connections the pool keeps open even when idle.")
    static let poolMaxWait = MetricName(name: "sluice_pool_max_wait_seconds",
                                        help: "Seconds the oldest waiting client of the pool has waited for a server.")
    static let poolPaused = MetricName(name: "sluice_pool_paused", help: "1 while the pool is paused (PAUSE), else 0.")
    static let leakSuspects = MetricName(name: "sluice_leak_suspects",
                                         help: "Clients holding a server longer than leak_detection_threshold.")
    static let clientsByApplication = MetricName(
        name: "sluice_clients_by_application",
        help: "Client connections by application_name (the metrics_application_limit largest groups; the rest as other).")
    static let oldestClientAge = MetricName(name: "sluice_oldest_client_age_seconds",
                                            help: "Age in seconds of the longest-connected client of the database.")
    static let notifyChannels = MetricName(name: "sluice_notify_channels",
                                           help: "LISTEN channels the notification relay listens to for the database (subscribed or pending).")
    static let notifySubscribers = MetricName(name: "sluice_notify_subscribers",
                                              help: "Clients subscribed to at least one channel through the notification relay.")
    static let notifyListeners = MetricName(name: "sluice_notify_listener_connections",
                                            help: "Notification listener connections open (application_name sluice-listener; one per worker at most).")
    static let up = MetricName(name: "sluice_up", help: "1 while Sluice is running.")
    static let maxClientConn = MetricName(name: "sluice_max_client_conn", help: "Configured max_client_conn.")

    // Counters.
    static let transactions = MetricName(name: "sluice_transactions_total", help: "Transactions completed through the pool.")
    static let queries = MetricName(name: "sluice_queries_total", help: "Queries completed, over all pools.")
    static let receivedBytes = MetricName(name: "sluice_received_bytes_total", help: "Bytes received from clients.")
    static let sentBytes = MetricName(name: "sluice_sent_bytes_total", help: "Bytes sent to clients.")
    static let serversOpened = MetricName(name: "sluice_server_connections_opened_total",
                                          help: "Server connections opened (login attempts started).")
    static let connectFailures = MetricName(name: "sluice_server_connect_failures_total",
                                            help: "Server connections that failed to connect or log in.")
    static let queueTimeouts = MetricName(name: "sluice_queue_timeouts_total",
                                          help: "Clients refused after waiting query_wait_timeout for a server.")
    static let clientsAccepted = MetricName(name: "sluice_client_connections_accepted_total",
                                            help: "Client connections accepted by the listeners.")
    static let clientsRefused = MetricName(name: "sluice_client_connections_refused_total",
                                           help: "Client connections refused (limits, shutdown).")
    static let clientsClosed = MetricName(name: "sluice_client_connections_closed_total",
                                          help: "Client connections closed, by reason.")
    static let serversClosed = MetricName(name: "sluice_server_connections_closed_total",
                                          help: "Server connections closed, by reason.")
    static let authFailures = MetricName(name: "sluice_auth_failures_total", help: "Client logins refused for bad credentials.")
    static let cancelRequests = MetricName(name: "sluice_cancel_requests_total", help: "CancelRequest packets received.")
    static let limitRefusals = MetricName(name: "sluice_limit_refusals_total", help: "Clients refused, by the limit that refused them.")
    static let tlsHandshakes = MetricName(name: "sluice_tls_handshakes_total",
                                          help: "Completed TLS handshakes by side (client, server) and protocol version.")
    static let tlsFailures = MetricName(name: "sluice_tls_handshake_failures_total", help: "Failed TLS handshakes by side and reason.")
    static let queryTimeouts = MetricName(name: "sluice_query_timeouts_total", help: "Queries cancelled by query_timeout.")
    static let hostsPassedOver = MetricName(name: "sluice_upstream_hosts_passed_over_total",
                                            help: "Hosts of a multi-host URL a connection attempt passed over: unreachable, or not the target_session_attrs role.")
    static let replicaLag = MetricName(name: "sluice_replica_lag_seconds",
                                       help: "A standby host's replication lag when last read (max_replica_lag checks).")
    static let replicaLagExclusions = MetricName(name: "sluice_replica_lag_exclusions_total",
                                                 help: "Times a standby went over max_replica_lag and stopped getting new transactions.")
    static let serversByHost = MetricName(name: "sluice_servers_by_host",
                                          help: "Logged-in server connections by the host they reached and its role (primary, standby, unknown).")
    static let clientPins = MetricName(name: "sluice_client_pins_total",
                                       help: "Clients pinned to their server by session state, by kind (once per client and kind).")
    static let serverResets = MetricName(name: "sluice_server_resets_total",
                                         help: "Servers reset before reuse in transaction mode: after a pinned client, or server_reset_query_always.")
    static let clientsPinned = MetricName(name: "sluice_clients_pinned", help: "Clients now pinned to their server by session state.")
    static let serverChecks = MetricName(name: "sluice_server_checks_total", help: "server_check_query runs before reuse.")
    static let statementsPrepared = MetricName(name: "sluice_prepared_statements_total",
                                               help: "Distinct statements given a shared server-side name (transaction mode).")
    static let statementParses = MetricName(name: "sluice_prepared_statement_parses_total",
                                            help: "Parse messages sent to servers for shared statements.")
    static let notificationsReceived = MetricName(name: "sluice_notifications_received_total",
                                                  help: "Notifications the relay's listener connection received.")
    static let notificationsDelivered = MetricName(name: "sluice_notifications_delivered_total",
                                                   help: "Notifications the relay wrote to subscribed clients.")
    static let notificationsDropped = MetricName(name: "sluice_notifications_dropped_total",
                                                 help: "Notifications discarded with clients closed for a full queue (notify_queue_limit, notify_queue_bytes).")
    static let notifyQueueOverflows = MetricName(name: "sluice_notify_queue_overflows_total",
                                                 help: "Clients closed because notifications waiting for them passed notify_queue_limit or notify_queue_bytes.")
    static let notifyListenerReconnects = MetricName(name: "sluice_notify_listener_reconnects_total",
                                                     help: "Notification listener connections reopened after a loss or a failed login.")
    static let leakSuspectsTotal = MetricName(name: "sluice_leak_suspects_total",
                                              help: "Clients that became leak suspects (counted once per hold).")

    // Per application_name (ApplicationSeries.swift): the metrics_application_limit busiest names, the rest as other.
    static let applicationHistograms: [(ApplicationBook.Histogram, MetricName)] = [
        (.poolWait, MetricName(name: "sluice_application_pool_wait_seconds",
                               help: "Seconds a client waited for a server connection, by application_name (busiest names; the rest as other).")),
        (.transaction, MetricName(name: "sluice_application_transaction_duration_seconds",
                                  help: "Seconds from the first message of a transaction to its ReadyForQuery, by application_name (busiest names; the rest as other).")),
        (.serverHold, MetricName(name: "sluice_application_server_hold_seconds",
                                 help: "Seconds a client held a server connection per checkout, by application_name (busiest names; the rest as other).")),
    ]
    static let applicationLeakSuspects = MetricName(
        name: "sluice_application_leak_suspects_total",
        help: "Clients that became leak suspects, by application_name (busiest names; the rest as other).")
    static let applicationRefusals = MetricName(
        name: "sluice_application_refusals_total",
        help: "Logins and waits refused by a limit or query_wait_timeout, by application_name and reason (busiest names; the rest as other).")

    /// The swift-metrics timers the core records (histograms in seconds, `database` dimension), with help.
    static let coreTimers: [String: String] = [
        "sluice_pool_wait_seconds": "Seconds a client waited for a server connection.",
        "sluice_server_hold_seconds": "Seconds a client held a server connection per checkout.",
        "sluice_transaction_duration_seconds": "Seconds from the first message of a transaction to its ReadyForQuery.",
        "sluice_upstream_connect_seconds": "Seconds to connect, negotiate TLS and log in to the upstream (start=cold: the pool had no logged-in server, or the last login had failed).",
    ]
}
