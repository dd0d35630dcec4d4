// Swift cannot call C variadic functions; these wrappers give it fixed signatures. The rest are small
// helpers that are simpler in C: libmicrohttpd's union-returning info calls, the URL unescaper, and GnuTLS.
#ifndef LYNX_CMICROHTTPD_SHIM_H
#define LYNX_CMICROHTTPD_SHIM_H
#include <stdint.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>

/// Starts a daemon whose options are all passed through one MHD_OPTION_ARRAY.
static inline struct MHD_Daemon *lynx_mhd_start(unsigned int flags, uint16_t port,
                                                MHD_AccessHandlerCallback handler, void *handler_cls,
                                                struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// Number of connections the daemon currently holds (0 when unknown).
static inline unsigned int lynx_mhd_connection_count(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

/// The port the daemon is bound to (useful with port 0).
static inline uint16_t lynx_mhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/// The connection's socket (-1 when unknown).
static inline int lynx_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/// The peer's address in numeric form (IPv4 or IPv6, no port) into `out`; an empty string when unknown.
static inline void lynx_mhd_client_address(struct MHD_Connection *connection, char *out, size_t size) {
    out[0] = '\0';
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
    }
}

static enum MHD_Result lynx_count_header_(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind; (void)value;
    struct { const char *name; unsigned int count; } *wanted = cls;
    if (key && strcasecmp(key, wanted->name) == 0) wanted->count++;
    return MHD_YES;
}

/// How many times the request carries the header `name` (case-insensitive).
static inline unsigned int lynx_mhd_header_count(struct MHD_Connection *connection, const char *name) {
    struct { const char *name; unsigned int count; } wanted = { name, 0 };
    MHD_get_connection_values(connection, MHD_HEADER_KIND, lynx_count_header_, &wanted);
    return wanted.count;
}

static inline int lynx_hex_(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// MHD_OPTION_UNESCAPE_CALLBACK: decodes %XX in place like libmicrohttpd's own unescaper, except %00, which
/// stays as the three characters: a decoded NUL would end the C string and `/vectors/1%00` would read as
/// `/vectors/1`. Returns the new length.
static inline size_t lynx_unescape_keeping_nul(void *cls, struct MHD_Connection *connection, char *s) {
    (void)cls; (void)connection;
    char *w = s;
    for (const char *r = s; *r; ) {
        int hi, lo;
        if (r[0] == '%' && (hi = lynx_hex_(r[1])) >= 0 && (lo = lynx_hex_(r[2])) >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/// The longest request target (path and query, as sent) and the most query parameters served; a request past
/// either gets 414 (MicroHTTPDServer).
#define LYNX_MAX_TARGET_BYTES 16384
#define LYNX_MAX_QUERY_PARAMETERS 64

/// The access handler's slot value for a request whose target `lynx_check_target` refused (never dereferenced).
static inline void *lynx_target_refused(void) { return (void *)(uintptr_t)1; }

/// MHD_OPTION_URI_LOG_CALLBACK, called with the request target before libmicrohttpd parses its query. 0.9.75
/// keeps each parameter in the connection's memory pool and, when they overflow it, queues a 431 that is never
/// sent: the connection hangs until a timeout. So a target past the limits above has its query cut off here
/// (nothing is parsed) and is marked for the access handler, which answers 414 instead.
static inline void *lynx_check_target(void *cls, const char *uri, struct MHD_Connection *connection) {
    (void)cls; (void)connection;
    char *query = strchr(uri, '?');
    size_t parameters = 0;
    if (query) {
        parameters = 1;
        for (const char *c = query + 1; *c; c++) parameters += (*c == '&');
    }
    if (strlen(uri) <= LYNX_MAX_TARGET_BYTES && parameters <= LYNX_MAX_QUERY_PARAMETERS) return NULL;
    if (query) query[1] = '\0';  // the request line's own buffer, which libmicrohttpd parses next
    return lynx_target_refused();
}

/// Writes `length` bytes to the client, through the connection's TLS session when it has one, past
/// libmicrohttpd (which can queue a response only before or after a body, never during one). Call only from
/// the thread that runs the connection, inside its access handler. Returns 1 when all was written.
static inline int lynx_mhd_write_direct(struct MHD_Connection *connection, const void *bytes, size_t length) {
    const union MHD_ConnectionInfo *tls = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    int fd = lynx_mhd_connection_fd(connection);
    const char *p = bytes;
    size_t left = length;
    int spins = 0;
    while (left > 0 && spins < 1000) {
        ssize_t n;
        if (tls && tls->tls_session) {
            n = gnutls_record_send((gnutls_session_t)tls->tls_session, p, left);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) { spins++; continue; }
        } else {
            if (fd < 0) return 0;
            n = send(fd, p, left, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) { spins++; continue; }
        }
        if (n <= 0) return 0;
        p += n;
        left -= (size_t)n;
    }
    return left == 0;
}

/// Checks that `cert` and `key` are PEM that GnuTLS accepts as a certificate (chain) and its private key.
/// Returns 0, or a GnuTLS error code (gnutls_strerror names it).
static inline int lynx_tls_check_pair(const char *cert, const char *key) {
    gnutls_certificate_credentials_t creds;
    int rc = gnutls_certificate_allocate_credentials(&creds);
    if (rc < 0) return rc;
    gnutls_datum_t c = { (unsigned char *)cert, (unsigned int)strlen(cert) };
    gnutls_datum_t k = { (unsigned char *)key, (unsigned int)strlen(key) };
    rc = gnutls_certificate_set_x509_key_mem(creds, &c, &k, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(creds);
    return rc < 0 ? rc : 0;
}

/// GnuTLS's description of an error code.
static inline const char *lynx_tls_error(int code) { return gnutls_strerror(code); }
#endif
