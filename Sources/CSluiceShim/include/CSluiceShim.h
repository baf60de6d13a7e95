// CSluiceShim: thin C wrappers for what Glibc's Swift overlay lacks or imports awkwardly
// (epoll's packed struct, kqueue, socket options), so SluiceIO stays portable Swift.
#ifndef CSLUICE_SHIM_H
#define CSLUICE_SHIM_H
#include <stdint.h>

/// One readiness event, unpacked: the registered token and the flags below.
typedef struct {
    uint64_t token;
    uint32_t readable;
    uint32_t writable;
    uint32_t hangup;
    uint32_t error;
} sluice_event;

/// Creates the readiness set (epoll on Linux, kqueue on macOS); -1 and errno on failure.
int sluice_poll_create(void);
/// Adds fd with interest (read, write) under token; level-triggered.
int sluice_poll_add(int pfd, int fd, uint64_t token, int want_read, int want_write);
/// Changes the interest of fd already in the set.
int sluice_poll_modify(int pfd, int fd, uint64_t token, int want_read, int want_write);
/// Removes fd from the set.
int sluice_poll_remove(int pfd, int fd);
/// Harvests up to max ready events without waiting (timeout_ms = 0) or waiting up to timeout_ms.
int sluice_poll_wait(int pfd, sluice_event *events, int max, int timeout_ms);

/// A doorbell other threads ring to wake a loop blocked in sluice_poll_wait: an eventfd on
/// Linux, a pipe elsewhere. Returns the descriptor to watch for reading (out[0]) and the one to
/// ring (out[1], the same eventfd on Linux); 0 on success, -1 and errno on failure.
int sluice_doorbell_create(int out[2]);
/// Rings the doorbell (never blocks; a full pipe or a saturated counter is already rung).
void sluice_doorbell_ring(int fd);
/// Empties the doorbell so it stops reading as ready.
void sluice_doorbell_drain(int fd);

/// Sets O_NONBLOCK and FD_CLOEXEC.
int sluice_set_nonblocking(int fd);
/// TCP_NODELAY on.
int sluice_set_nodelay(int fd);
/// SO_KEEPALIVE with idle/interval/count (0 leaves the system default).
int sluice_set_keepalive(int fd, int enable, int idle, int interval, int count);
/// SO_REUSEADDR on.
int sluice_set_reuseaddr(int fd);
/// IPV6_V6ONLY on.
int sluice_set_v6only(int fd);
/// Pending socket error (SO_ERROR), for a finished non-blocking connect.
int sluice_socket_error(int fd);
/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long sluice_raise_nofile_limit(void);
/// Resident set size in bytes of this process (from /proc/self/statm), or -1.
long sluice_rss_bytes(void);
#endif
