"""Hooks of the schemathesis run in test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

libmicrohttpd answers a request line longer than a connection's memory pool (64 KiB, MicroHTTPDServer) with a 414
of its own, an HTML body without a Content-Type, before Lynx sees the request: no hook of libmicrohttpd 0.9.75 can
word it. Lynx's own 414 problem covers request targets from 16,385 bytes up to that size (README, "Limits";
test_http_protocol_errors.py tests both). The failures schemathesis reports for such an answer, and for no other,
are not the API's: they are dropped here.
"""
from urllib.parse import urlsplit

import schemathesis

LYNX_TARGET_LIMIT = 16384


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if response.status_code != 414 or "content-type" in response.headers:
        return True
    url = urlsplit(response.request.url)
    target = len(url.path) + (len(url.query) + 1 if url.query else 0)
    return target <= LYNX_TARGET_LIMIT
