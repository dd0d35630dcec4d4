"""The exceptions the client raises.

Every error lynxd answers is an RFC 9457 problem document (``application/problem+json``) whose ``type`` is
``urn:lynx:problem:<slug>``. The client raises the subclass of :class:`LynxError` named after the slug
(``dimension-mismatch`` -> :class:`DimensionMismatchError`), carrying every member of the document:
``status``, ``type``, ``title``, ``detail``, ``field``, ``expected``, ``actual`` and ``limit`` (None when absent),
every other extension member it carried (``existing``, ``leader``, ``reasons``, ``lsn``, ...) as an attribute
too, and all of them in ``members``.

A problem type this version does not know raises :class:`LynxError` itself, with the same members. An error
answer that is not a problem document (libmicrohttpd answers a request that is not valid HTTP/1.x itself, with
a short HTML body) raises :class:`HTTPStatusError`; no answer at all (refused, reset, timed out) raises
:class:`TransportError`.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type

from ._retry import parse_retry_after

PROBLEM_TYPE_PREFIX = "urn:lynx:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class LynxError(Exception):
    """Base of every exception of this package. For a problem answer, its members are attributes."""

    status: Optional[int]
    type: Optional[str]
    title: Optional[str]
    detail: Optional[str]
    field: Optional[str]
    expected: Optional[int]
    actual: Optional[int]
    limit: Optional[int]
    members: Dict[str, Any]
    headers: Dict[str, str]

    def __init__(self, message: str, *, status: Optional[int] = None, members: Optional[Mapping[str, Any]] = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.members = dict(members or {})
        self.status = status if status is not None else self.members.get("status")
        self.type = self.members.get("type")
        self.title = self.members.get("title")
        self.detail = self.members.get("detail")
        # The members the spec names on Problem itself: None when the answer did not carry them.
        self.field = self.members.get("field")
        self.expected = self.members.get("expected")
        self.actual = self.members.get("actual")
        self.limit = self.members.get("limit")
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}

    def __getattr__(self, name: str) -> Any:
        # Any other extension member the answer carried (existing, leader, reasons, lsn, diverged_at, ...).
        members = self.__dict__.get("members", {})
        if name in members:
            return members[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or problem member {name!r}")

    @property
    def slug(self) -> Optional[str]:
        """The problem type without its ``urn:lynx:problem:`` prefix (``dimension-mismatch``)."""
        if isinstance(self.type, str) and self.type.startswith(PROBLEM_TYPE_PREFIX):
            return self.type[len(PROBLEM_TYPE_PREFIX):]
        return None

    @property
    def retry_after(self) -> Optional[float]:
        """The answer's ``Retry-After`` in seconds, when it had one."""
        return parse_retry_after(self.headers.get("retry-after"))


class TransportError(LynxError):
    """No answer: the connection was refused, reset or timed out, or TLS failed. ``__cause__`` is the OSError."""


class HTTPStatusError(LynxError):
    """An error status whose body is not a problem document; ``body`` holds the first 4 KiB of it."""

    body: bytes


class UnexpectedResponseError(LynxError):
    """A success status whose body is not what the operation answers (not JSON, or another shape)."""


# One class per problem type of openapi/openapi.yaml; the name is the slug in CamelCase with "Error".
class InvalidJsonError(LynxError):
    """400: the body is not JSON (syntax, NaN, trailing bytes, duplicate keys, too deep)."""


class InvalidRequestError(LynxError):
    """400: valid JSON of the wrong shape or type, a bad id, path or query parameter; ``field`` names it."""


class InvalidCollectionNameError(LynxError):
    """400: a collection name that is not 1 to 64 of ``A-Z a-z 0-9 _ -``."""


class BadFramingError(LynxError):
    """400: two Content-Length headers, or Content-Length with Transfer-Encoding."""


class UnauthorizedError(LynxError):
    """401: lynxd runs with an API key and the request had none, or another one."""


class ForbiddenError(LynxError):
    """403: a write with the read-only key."""


class NotFoundError(LynxError):
    """404: unknown route, no vector with that id, no such metadata index or backup."""


class CollectionNotFoundError(LynxError):
    """404: no collection of that name."""


class MethodNotAllowedError(LynxError):
    """405: the path exists, not with this method."""


class CollectionConflictError(LynxError):
    """409: the collection exists with other settings (``existing``: its settings)."""


class CollectionProtectedError(LynxError):
    """409: ``default`` cannot be deleted."""


class TooManyCollectionsError(LynxError):
    """409: ``--max-collections`` collections exist already (``limit``)."""


class ConflictError(LynxError):
    """409: a metadata index of another type exists on the field, or a backup name is in use."""


class DivergedError(LynxError):
    """409 (replication log): the follower's log is not on the leader's history (``diverged_at``)."""


class SnapshotNeededError(LynxError):
    """410 (replication log): the follower is behind the leader's window (``start_lsn``)."""


class PayloadTooLargeError(LynxError):
    """413: the body is over ``--max-body-bytes`` (``limit``)."""


class UriTooLongError(LynxError):
    """414: the request target is over 16384 bytes or has more than 64 query parameters."""


class UnsupportedMediaTypeError(LynxError):
    """415: a body that is not ``application/json``."""


class NotLeaderError(LynxError):
    """421 (a follower; ``leader`` names the leader) or 503 (a leader that lost its lease; ``lsn``)."""


class DimensionMismatchError(LynxError):
    """422: a vector's length is not the collection's dimension (``expected``, ``actual``)."""


class OutOfRangeError(LynxError):
    """422: a value out of its range (``k``, a batch size, metadata size, a norm, ...); ``field``, ``limit``."""


class DuplicateIdError(LynxError):
    """422: an id twice in one upsert batch (``field``: the second)."""


class ResponseTooLargeError(LynxError):
    """422: the answer would pass ``--max-response-bytes`` (``limit``); ask for less."""


class InternalError(LynxError):
    """500: a bug in lynxd; nothing was applied."""


class UnavailableError(LynxError):
    """503: recovering, failed, too many records pending, or body memory full (``Retry-After`` mostly)."""


class NoLeaderError(LynxError):
    """503: the node knows no leader (an election); ``Retry-After: 1``."""


class ReplicationTimeoutError(LynxError):
    """503: too few followers made the write durable in time (``lsn``); it stays in the leader's log."""


class HttpVersionNotSupportedError(LynxError):
    """505: an HTTP/1.x version other than 1.0 and 1.1."""


class InsufficientStorageError(LynxError):
    """507: the log append failed for lack of space; nothing was applied."""


def class_name_for_slug(slug: str) -> str:
    """``dimension-mismatch`` -> ``DimensionMismatchError``."""
    return "".join(part[:1].upper() + part[1:] for part in slug.split("-")) + "Error"


PROBLEM_CLASSES: Dict[str, Type[LynxError]] = {
    slug: globals()[class_name_for_slug(slug)]
    for slug in (
        "invalid-json", "invalid-request", "invalid-collection-name", "bad-framing", "unauthorized", "forbidden",
        "not-found", "collection-not-found", "method-not-allowed", "collection-conflict",
        "collection-protected", "too-many-collections", "conflict", "diverged", "snapshot-needed",
        "payload-too-large", "uri-too-long", "unsupported-media-type", "not-leader", "dimension-mismatch",
        "out-of-range", "duplicate-id", "response-too-large", "internal", "unavailable", "no-leader",
        "replication-timeout", "http-version-not-supported", "insufficient-storage",
    )
}


def error_from_response(status: int, content_type: str, body: bytes, headers: Mapping[str, str],
                        what: str) -> LynxError:
    """The exception for an error answer: the problem type's class, else HTTPStatusError. ``what`` names
    the request (``POST /vectors``) in the message."""
    media_type = content_type.split(";")[0].strip().lower()
    members: Optional[Dict[str, Any]] = None
    if media_type == PROBLEM_MEDIA_TYPE:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            members = decoded
    if members is None:
        text = body[:4096].decode("utf-8", "replace").strip()
        err = HTTPStatusError(f"{what}: HTTP {status} without a problem document: {text[:300]}",
                              status=status, headers=headers)
        err.body = body[:4096]
        return err
    problem_type = members.get("type")
    slug = problem_type[len(PROBLEM_TYPE_PREFIX):] if isinstance(problem_type, str) and \
        problem_type.startswith(PROBLEM_TYPE_PREFIX) else None
    cls = PROBLEM_CLASSES.get(slug or "", LynxError)
    detail = members.get("detail") or members.get("title") or ""
    return cls(f"{what}: {status} {slug or problem_type}: {detail}", status=status, members=members,
               headers=headers)
