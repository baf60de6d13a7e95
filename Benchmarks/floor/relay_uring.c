/*
 * relay_uring.c: relay.c's byte copier on io_uring instead of epoll + read/write — the other I/O
 * design a proxy could use here. One thread, one ring: every socket has a recv outstanding; a
 * completed recv becomes a send to the peer from the same buffer, and the completed send re-arms
 * the recv. Submissions made while handling a batch of completions go to the kernel with the next
 * wait, so a loop iteration is one io_uring_enter for all the sockets that moved. No parsing, no
 * pooling, no authentication of its own, one upstream connection per client (connected blocking
 * at accept time): a measuring tool, not a proxy.
 *
 *   cc -O2 -o relay_uring relay_uring.c -luring && ./relay_uring LISTEN_PORT UPSTREAM_PORT
 *
 * Benchmarks/floor.sh builds and runs it when liburing is installed (apt-get install liburing-dev),
 * next to relay.c, Sluice and PgBouncer (Benchmarks/RESULTS.md, "Fourth pass").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
#define BUF_SIZE 16384
enum { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };

struct conn {
    int peer;          /* the other socket of the pair, -1 when closed */
    uint32_t gen;      /* bumped at close: completions of an earlier socket on this fd are stale */
    char *buf;         /* what was received, being sent to the peer */
    int len, off;
};
static struct conn conns[MAX_FD];
static struct io_uring ring;
static int listen_fd;

static uint64_t tag(int fd, int op) { return ((uint64_t)conns[fd].gen << 32) | ((uint64_t)fd << 2) | (uint64_t)op; }

static struct io_uring_sqe *sqe(void) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
    return s;
}

static void arm_accept(void) {
    struct io_uring_sqe *s = sqe();
    io_uring_prep_accept(s, listen_fd, NULL, NULL, 0);
    io_uring_sqe_set_data64(s, ((uint64_t)listen_fd << 2) | OP_ACCEPT);
}

static void arm_recv(int fd) {
    struct io_uring_sqe *s = sqe();
    io_uring_prep_recv(s, fd, conns[fd].buf, BUF_SIZE, 0);
    io_uring_sqe_set_data64(s, tag(fd, OP_RECV));
}

/* Sends the rest of fd's buffer to its peer (the completion is tagged with fd, the reader). */
static void arm_send(int fd) {
    struct conn *c = &conns[fd];
    struct io_uring_sqe *s = sqe();
    io_uring_prep_send(s, c->peer, c->buf + c->off, (size_t)(c->len - c->off), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(fd, OP_SEND));
}

static void close_one(int fd) {
    shutdown(fd, SHUT_RDWR);  /* ends the socket's outstanding recv */
    close(fd);
    conns[fd].peer = -1;
    conns[fd].gen++;
}

static void close_pair(int fd) {
    int other = conns[fd].peer;
    close_one(fd);
    if (other >= 0 && conns[other].peer == fd) close_one(other);
}

static void opened(int cfd, struct sockaddr_in *upstream) {
    int one = 1, sfd = socket(AF_INET, SOCK_STREAM, 0);
    if (cfd >= MAX_FD || sfd < 0 || sfd >= MAX_FD || connect(sfd, (struct sockaddr *)upstream, sizeof *upstream) < 0) {
        close(cfd);
        if (sfd >= 0) close(sfd);
        return;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fds[2] = {cfd, sfd};
    for (int i = 0; i < 2; i++) {
        struct conn *c = &conns[fds[i]];
        c->peer = fds[1 - i];
        if (!c->buf) c->buf = malloc(BUF_SIZE);
        arm_recv(fds[i]);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_FD; i++) conns[i].peer = -1;
    struct sockaddr_in listen_addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    struct sockaddr_in upstream = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &listen_addr.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &upstream.sin_addr);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0 || listen(listen_fd, 512) < 0) {
        perror("relay_uring: listen");
        return 1;
    }
    int err = io_uring_queue_init(4096, &ring, 0);
    if (err < 0) {
        fprintf(stderr, "relay_uring: io_uring_queue_init: %s\n", strerror(-err));
        return 1;
    }
    arm_accept();
    for (;;) {
        err = io_uring_submit_and_wait(&ring, 1);
        if (err < 0 && err != -EINTR) {
            fprintf(stderr, "relay_uring: io_uring_submit_and_wait: %s\n", strerror(-err));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t data = cqe->user_data;
            int op = (int)(data & 3), fd = (int)((data >> 2) & 0x3fffffff), res = cqe->res;
            if (op == OP_ACCEPT) {
                if (res >= 0) opened(res, &upstream);
                arm_accept();
                continue;
            }
            struct conn *c = &conns[fd];
            if ((uint32_t)(data >> 32) != c->gen || c->peer < 0) continue;  /* a closed socket's */
            if (op == OP_RECV) {
                if (res <= 0) { if (res != -EAGAIN && res != -EINTR) close_pair(fd); else arm_recv(fd); continue; }
                c->len = res;
                c->off = 0;
                arm_send(fd);
            } else {
                if (res < 0) { if (res == -EAGAIN || res == -EINTR) arm_send(fd); else close_pair(fd); continue; }
                c->off += res;
                if (c->off < c->len) arm_send(fd); else arm_recv(fd);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
