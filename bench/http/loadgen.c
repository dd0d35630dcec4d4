// A closed-loop HTTP/1.1 load generator for lynxd: C keep-alive connections split over T threads (epoll each),
// one request in flight per connection, for a fixed duration. Two request kinds:
//   health  GET /health
//   upsert  POST /vectors with one record of D random components ("%.6f", 64 pooled vectors per thread) and a
//           fresh id per request (the id sits right-aligned in a fixed 20-byte field, so a request is a memcpy of
//           a prepared buffer plus 20 bytes: the client costs little and the same for both kinds).
// It exists because wrk's Lua request hook costs the client more per ingest request than per health request,
// which skews a ratio of the two (both share the machine's cores with the server).
//
// Output (one line, as bench/http/*.lua print it):
//   LYNX_RESULT requests=N errors_status=E errors_other=O seconds=S p50_us=P p99_us=Q
// Exit status 1 when a connection fails.
//
// Build: gcc -O2 -pthread -o loadgen bench/http/loadgen.c
// Usage: loadgen health|upsert PORT [CONNECTIONS=32] [SECONDS=8] [THREADS=2] [DIM=384] [ID_OFFSET=0] [QUERY=""]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POOL 64
#define ID_WIDTH 20
#define LAT_BUCKETS 100000  // 1 us buckets up to 100 ms; slower requests land in the last one

typedef struct {
    int fd;
    uint64_t next_id;
    char *req;       // this connection's request buffer (upsert: rewritten per request)
    size_t req_len, sent;
    char resp[8192];
    size_t got;
    double started;
} conn_t;

typedef struct {
    int index, nconn, port, dim, upsert;
    double seconds;
    uint64_t id_base;
    const char *query;
    uint64_t requests, errors_status, errors_other;
    uint32_t *latency;  // histogram, 1 us buckets
    char *templates[POOL];
    size_t template_len[POOL], id_offset[POOL];
} worker_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rnd(uint64_t *s) {  // splitmix64 -> [0, 1)
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (z >> 11) * (1.0 / 9007199254740992.0);
}

static void build_templates(worker_t *w) {
    uint64_t seed = 0x1234 + w->index;
    for (int p = 0; p < POOL; p++) {
        size_t cap = 64 + (size_t)w->dim * 12;
        char *tail = malloc(cap);
        size_t t = (size_t)sprintf(tail, ",\"vector\":[");
        for (int i = 0; i < w->dim; i++) t += (size_t)sprintf(tail + t, i ? ",%.6f" : "%.6f", rnd(&seed) * 2 - 1);
        t += (size_t)sprintf(tail + t, "]}");
        size_t body_len = strlen("{\"id\":") + ID_WIDTH + t;
        char *req = malloc(512 + body_len);
        size_t h = (size_t)sprintf(req, "POST /vectors%s HTTP/1.1\r\nHost: lynx\r\nContent-Type: application/json\r\n"
                                        "Content-Length: %zu\r\n\r\n{\"id\":", w->query, body_len);
        w->id_offset[p] = h;
        memset(req + h, ' ', ID_WIDTH);
        memcpy(req + h + ID_WIDTH, tail, t);
        w->templates[p] = req;
        w->template_len[p] = h + ID_WIDTH + t;
        free(tail);
    }
}

static void prepare(worker_t *w, conn_t *c) {
    if (!w->upsert) { c->sent = 0; return; }
    int p = (int)(c->next_id % POOL);
    memcpy(c->req, w->templates[p], w->template_len[p]);
    c->req_len = w->template_len[p];
    char digits[24];
    int n = sprintf(digits, "%llu", (unsigned long long)c->next_id);
    memcpy(c->req + w->id_offset[p] + ID_WIDTH - n, digits, (size_t)n);
    c->next_id++;
    c->sent = 0;
}

static int connect_one(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { perror("connect"); exit(1); }
    return fd;
}

/// A complete response in c->resp? Returns its length (headers + body) or 0 when more bytes are needed.
static size_t response_length(conn_t *c) {
    char *end = memmem(c->resp, c->got, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t header = (size_t)(end - c->resp) + 4;
    size_t body = 0;
    char *cl = memmem(c->resp, header, "Content-Length:", 15);
    if (!cl) cl = memmem(c->resp, header, "content-length:", 15);
    if (cl) body = strtoul(cl + 15, NULL, 10);
    return c->got >= header + body ? header + body : 0;
}

static void *run(void *arg) {
    worker_t *w = arg;
    if (w->upsert) build_templates(w);
    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)w->nconn, sizeof(conn_t));
    static const char health[] = "GET /health HTTP/1.1\r\nHost: lynx\r\n\r\n";
    for (int i = 0; i < w->nconn; i++) {
        conn_t *c = &conns[i];
        c->fd = connect_one(w->port);
        c->next_id = w->id_base + (uint64_t)i * 100000000ull;
        if (w->upsert) {
            c->req = malloc(w->template_len[0] + 64);
        } else {
            c->req = (char *)health;
            c->req_len = sizeof health - 1;
        }
        prepare(w, c);
        c->started = now();
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    double deadline = now() + w->seconds;
    struct epoll_event events[256];
    while (now() < deadline) {
        int n = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < n; e++) {
            conn_t *c = events[e].data.ptr;
            if (events[e].events & (EPOLLERR | EPOLLHUP)) { w->errors_other++; fprintf(stderr, "connection lost\n"); return NULL; }
            if (c->sent < c->req_len && (events[e].events & EPOLLOUT)) {
                ssize_t k = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
                if (k > 0) c->sent += (size_t)k;
                else if (k < 0 && errno != EAGAIN) { w->errors_other++; perror("send"); return NULL; }
                if (c->sent == c->req_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (events[e].events & EPOLLIN) {
                for (;;) {
                    ssize_t k = recv(c->fd, c->resp + c->got, sizeof c->resp - c->got, 0);
                    if (k > 0) { c->got += (size_t)k; continue; }
                    if (k == 0) { w->errors_other++; fprintf(stderr, "server closed a connection\n"); return NULL; }
                    if (errno == EAGAIN) break;
                    w->errors_other++; perror("recv"); return NULL;
                }
                size_t len = response_length(c);
                if (!len) continue;
                int status = c->got > 12 ? atoi(c->resp + 9) : 0;
                if (status < 200 || status > 299) w->errors_status++;
                w->requests++;
                double t = now();
                long us = (long)((t - c->started) * 1e6);
                w->latency[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
                memmove(c->resp, c->resp + len, c->got - len);
                c->got -= len;
                prepare(w, c);
                c->started = t;
                // Send at once; wait for EPOLLOUT only when the socket takes part of it.
                ssize_t s = send(c->fd, c->req, c->req_len, MSG_NOSIGNAL);
                if (s > 0) c->sent = (size_t)s;
                if (c->sent < c->req_len) {
                    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
        }
    }
    for (int i = 0; i < w->nconn; i++) close(conns[i].fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s health|upsert PORT [CONNECTIONS=32] [SECONDS=8] [THREADS=2] [DIM=384] [ID_OFFSET=0] [QUERY]\n", argv[0]);
        return 2;
    }
    int upsert = strcmp(argv[1], "upsert") == 0;
    int port = atoi(argv[2]);
    int nconn = argc > 3 ? atoi(argv[3]) : 32;
    double seconds = argc > 4 ? atof(argv[4]) : 8;
    int nthreads = argc > 5 ? atoi(argv[5]) : 2;
    int dim = argc > 6 ? atoi(argv[6]) : 384;
    uint64_t id_offset = argc > 7 ? strtoull(argv[7], NULL, 10) : 0;
    const char *query = argc > 8 ? argv[8] : "";
    worker_t *ws = calloc((size_t)nthreads, sizeof(worker_t));
    pthread_t *ts = calloc((size_t)nthreads, sizeof(pthread_t));
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        worker_t *w = &ws[i];
        w->index = i; w->port = port; w->dim = dim; w->upsert = upsert; w->seconds = seconds; w->query = query;
        w->nconn = nconn / nthreads + (i < nconn % nthreads);
        w->id_base = id_offset + (uint64_t)(i + 1) * 10000000000000ull;
        w->latency = calloc(LAT_BUCKETS, sizeof(uint32_t));
        pthread_create(&ts[i], NULL, run, w);
    }
    uint64_t req = 0, es = 0, eo = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ts[i], NULL);
        req += ws[i].requests; es += ws[i].errors_status; eo += ws[i].errors_other;
    }
    double elapsed = now() - t0;
    uint64_t seen = 0, p50 = 0, p99 = 0;
    for (long b = 0; b < LAT_BUCKETS; b++) {
        for (int i = 0; i < nthreads; i++) seen += ws[i].latency[b];
        if (!p50 && seen * 2 >= req) p50 = (uint64_t)b;
        if (!p99 && seen * 100 >= req * 99) { p99 = (uint64_t)b; break; }
    }
    printf("LYNX_RESULT requests=%llu errors_status=%llu errors_other=%llu seconds=%.3f p50_us=%llu p99_us=%llu\n",
           (unsigned long long)req, (unsigned long long)es, (unsigned long long)eo, elapsed,
           (unsigned long long)p50, (unsigned long long)p99);
    return eo ? 1 : 0;
}
