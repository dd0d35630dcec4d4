// Swift cannot call C variadic functions (curl_easy_setopt, curl_easy_getinfo); these wrappers give them fixed
// signatures, one per argument kind.
#ifndef LYNX_CCURL_SHIM_H
#define LYNX_CCURL_SHIM_H
#include <stddef.h>
#include <curl/curl.h>

/// The signature of CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION.
typedef size_t (*lynx_curl_data_fn)(char *data, size_t size, size_t count, void *context);

static inline CURLcode lynx_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lynx_curl_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// libcurl copies the string (CURLOPT_URL, CURLOPT_CUSTOMREQUEST...).
static inline CURLcode lynx_curl_setopt_str(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lynx_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lynx_curl_setopt_func(CURL *handle, CURLoption option, lynx_curl_data_fn value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lynx_curl_getinfo_long(CURL *handle, CURLINFO info, long *out) {
    return curl_easy_getinfo(handle, info, out);
}

/// Only http and https, also after a redirect (which the client does not follow anyway).
static inline CURLcode lynx_curl_http_only(CURL *handle) {
#if LIBCURL_VERSION_NUM >= 0x075500
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    return curl_easy_setopt(handle, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/// curl_global_init's flags are a macro expression Swift does not import.
static inline CURLcode lynx_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }
#endif
