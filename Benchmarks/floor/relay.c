/*
 * relay.c: the floor of any user-space proxy on this machine — a single-threaded, level-triggered
 * epoll loop that accepts on 127.0.0.1:LISTEN_PORT, opens one upstream connection per client to
 * 127.0.0.1:UPSTREAM_PORT, and copies bytes both ways. No parsing, no pooling, no authentication
 * of its own (the client's startup and password exchange go straight through to PostgreSQL), no
 * buffering beyond one read: when the peer cannot take a whole read, the rest is written
 * blocking-free in a retry loop (fine for select-only traffic; this is a measuring tool, not a proxy).
 *
 *   cc -O2 -o relay relay.c && ./relay LISTEN_PORT UPSTREAM_PORT
 *
 * Benchmarks/floor.sh builds and runs it next to Sluice and PgBouncer (Benchmarks/RESULTS.md,
 * "Third pass"): whatever a proxy does per transaction costs at least what this costs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
static int peer[MAX_FD];

static int tcp_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void close_pair(int epfd, int fd) {
    int other = peer[fd];
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    peer[fd] = -1;
    if (other >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, other, NULL);
        close(other);
        peer[other] = -1;
    }
}

/* Writes all of buf to fd, retrying on EAGAIN (the peer is a local socket that drains quickly). */
static int write_all(int fd, const char *buf, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_FD; i++) peer[i] = -1;
    struct sockaddr_in listen_addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    struct sockaddr_in upstream = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &listen_addr.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &upstream.sin_addr);

    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0 || listen(lfd, 512) < 0) {
        perror("relay: listen");
        return 1;
    }
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

    static char buf[65536];
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno != EINTR) { perror("relay: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd = accept(lfd, NULL, NULL);
                if (cfd < 0 || cfd >= MAX_FD) { if (cfd >= 0) close(cfd); continue; }
                int sfd = tcp_socket();
                if (sfd < 0 || sfd >= MAX_FD || connect(sfd, (struct sockaddr *)&upstream, sizeof upstream) < 0) {
                    close(cfd);
                    if (sfd >= 0) close(sfd);
                    continue;
                }
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                fcntl(cfd, F_SETFL, O_NONBLOCK);
                fcntl(sfd, F_SETFL, O_NONBLOCK);
                peer[cfd] = sfd;
                peer[sfd] = cfd;
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = cfd};
                struct epoll_event se = {.events = EPOLLIN, .data.fd = sfd};
                epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ce);
                epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &se);
                continue;
            }
            if (peer[fd] < 0) continue;  /* closed earlier in this batch */
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                if (write_all(peer[fd], buf, r) < 0) close_pair(epfd, fd);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_pair(epfd, fd);
            }
        }
    }
}
