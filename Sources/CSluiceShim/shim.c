// CSluiceShim: readiness-set and socket-option wrappers (see CSluiceShim.h).
#include "CSluiceShim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/epoll.h>

int sluice_poll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int ctl(int pfd, int op, int fd, uint64_t token, int r, int w) {
    struct epoll_event ev;
    ev.events = (r ? EPOLLIN : 0) | (w ? EPOLLOUT : 0) | EPOLLRDHUP;
    ev.data.u64 = token;
    return epoll_ctl(pfd, op, fd, &ev);
}
int sluice_poll_add(int pfd, int fd, uint64_t token, int r, int w) { return ctl(pfd, EPOLL_CTL_ADD, fd, token, r, w); }
int sluice_poll_modify(int pfd, int fd, uint64_t token, int r, int w) { return ctl(pfd, EPOLL_CTL_MOD, fd, token, r, w); }
int sluice_poll_remove(int pfd, int fd) { struct epoll_event ev = {0}; return epoll_ctl(pfd, EPOLL_CTL_DEL, fd, &ev); }

int sluice_poll_wait(int pfd, sluice_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    do { n = epoll_wait(pfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        out[i].token = evs[i].data.u64;
        out[i].readable = (evs[i].events & (EPOLLIN | EPOLLPRI)) != 0;
        out[i].writable = (evs[i].events & EPOLLOUT) != 0;
        out[i].hangup = (evs[i].events & (EPOLLHUP | EPOLLRDHUP)) != 0;
        out[i].error = (evs[i].events & EPOLLERR) != 0;
    }
    return n;
}
#else
#include <sys/event.h>
int sluice_poll_create(void) { return kqueue(); }
static int kq_set(int pfd, int fd, uint64_t token, int r, int w) {
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, r ? EV_ADD | EV_ENABLE : EV_ADD | EV_DISABLE, 0, 0, (void *)(uintptr_t)token);
    EV_SET(&ch[1], fd, EVFILT_WRITE, w ? EV_ADD | EV_ENABLE : EV_ADD | EV_DISABLE, 0, 0, (void *)(uintptr_t)token);
    return kevent(pfd, ch, 2, NULL, 0, NULL);
}
int sluice_poll_add(int pfd, int fd, uint64_t token, int r, int w) { return kq_set(pfd, fd, token, r, w); }
int sluice_poll_modify(int pfd, int fd, uint64_t token, int r, int w) { return kq_set(pfd, fd, token, r, w); }
int sluice_poll_remove(int pfd, int fd) {
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    kevent(pfd, ch, 2, NULL, 0, NULL);
    return 0;
}
int sluice_poll_wait(int pfd, sluice_event *out, int max, int timeout_ms) {
    struct kevent evs[256];
    if (max > 256) max = 256;
    struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
    int n = kevent(pfd, NULL, 0, evs, max, timeout_ms < 0 ? NULL : &ts);
    for (int i = 0; i < n; i++) {
        out[i].token = (uint64_t)(uintptr_t)evs[i].udata;
        out[i].readable = evs[i].filter == EVFILT_READ;
        out[i].writable = evs[i].filter == EVFILT_WRITE;
        out[i].hangup = (evs[i].flags & EV_EOF) != 0;
        out[i].error = (evs[i].flags & EV_ERROR) != 0;
    }
    return n;
}
#endif

#ifdef __linux__
#include <sys/eventfd.h>
int sluice_doorbell_create(int out[2]) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -1;
    out[0] = fd; out[1] = fd;
    return 0;
}
void sluice_doorbell_ring(int fd) { uint64_t one = 1; ssize_t r; do { r = write(fd, &one, sizeof one); } while (r < 0 && errno == EINTR); }
void sluice_doorbell_drain(int fd) { uint64_t value; ssize_t r; do { r = read(fd, &value, sizeof value); } while (r < 0 && errno == EINTR); }
#else
int sluice_doorbell_create(int out[2]) {
    if (pipe(out) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(out[i], F_SETFL, fcntl(out[i], F_GETFL, 0) | O_NONBLOCK);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}
void sluice_doorbell_ring(int fd) { char one = 1; ssize_t r; do { r = write(fd, &one, 1); } while (r < 0 && errno == EINTR); }
void sluice_doorbell_drain(int fd) { char buf[64]; while (read(fd, buf, sizeof buf) > 0) {} }
#endif

int sluice_set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
int sluice_set_nodelay(int fd) { int one = 1; return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
int sluice_set_reuseaddr(int fd) { int one = 1; return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); }
int sluice_set_v6only(int fd) { int one = 1; return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one); }
int sluice_set_keepalive(int fd, int enable, int idle, int interval, int count) {
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &enable, sizeof enable) < 0) return -1;
    if (!enable) return 0;
#ifdef __linux__
    if (idle > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    if (interval > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    if (count > 0) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
#endif
    return 0;
}
int sluice_socket_error(int fd) {
    int err = 0; socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}
long sluice_raise_nofile_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); getrlimit(RLIMIT_NOFILE, &rl); }
    return (long)rl.rlim_cur;
}
long sluice_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long pages = 0, rss = 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}
