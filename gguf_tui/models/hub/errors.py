"""Everything that can go wrong talking to the Hub, as one exception type with plain messages.

huggingface_hub raises a dozen types from three layers (its own errors, httpx2, OSError);
a front end should need one `except HubError` and show `str(error)` as it is.
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger(__name__)

TOKEN_HOWTO = "log in with `hf auth login` or set HF_TOKEN to an access token"


class HubError(Exception):
    """A Hub operation failed; `str(error)` is one line meant for the user."""


class RepoNotFound(HubError):
    """No such repository (or a private one and no token that may see it)."""


class GatedRepo(HubError):
    """The repository exists but its files need an accepted licence and a token."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class RemoteFileNotFound(HubError):
    """The repository no longer has this file."""


class NoMatchingFile(HubError):
    """A quantization or file pattern matched nothing, or more than one model."""


class HubOffline(HubError):
    """Offline mode is on (HF_HUB_OFFLINE) and what was asked for is not in the cache."""


class HubUnreachable(HubError):
    """The Hub cannot be reached at all (no network, DNS, refused connection)."""


class HubTimeout(HubError):
    """The server stopped answering: nothing arrived within the timeout."""


class DiskFull(HubError):
    """Not enough free space for the download."""


class CannotWrite(HubError):
    """The download folder (or the cache) cannot be written."""


class DownloadCancelled(HubError):
    """The user cancelled the download; nothing that looks complete was left behind."""


class HubServerError(HubError):
    """Any other refusal from the server (5xx, a rejected token, a bad request), or an
    answer that cannot be used (not JSON, the wrong shape, too big, a redirect loop)."""


class UnsafeHubAnswer(HubServerError):
    """The Hub named a file, ETag or commit that would become a path outside the cache."""


def quoted(value: object, most: int = 80) -> str:
    """Text from the server for a message: quoted, cut short, every control character
    (C0, C1, bidi controls) written as an escape, so the message is one inert line."""
    text = value if isinstance(value, str) else repr(value)
    short = text[:most]
    return repr(short) + ("…" if len(text) > most else "")


def translate(
    exc: BaseException, *, repo_id: str | None, endpoint: str, filename: str | None = None
) -> HubError | None:
    """Map an exception raised inside huggingface_hub to a HubError, or None if unknown."""
    from huggingface_hub import errors as hf

    if isinstance(exc, HubError):
        return exc
    repo = repo_id or "the repository"
    # GatedRepoError subclasses RepositoryNotFoundError: test it first.
    if isinstance(exc, hf.GatedRepoError):
        return GatedRepo(
            f"{repo} is gated: accept its terms at {endpoint}/{repo_id or ''}, then {TOKEN_HOWTO}"
        )
    if isinstance(exc, hf.RepositoryNotFoundError):
        return RepoNotFound(
            f"repository {repo} not found on {endpoint} (check the name; "
            f"for a private repository, {TOKEN_HOWTO})"
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return RevisionNotFound(f"{repo} has no such revision (branch, tag or commit)")
    if isinstance(exc, hf.RemoteEntryNotFoundError):
        what = filename or "the file"
        return RemoteFileNotFound(f"{what} is not (or no longer) in {repo}")
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return HubOffline(f"offline mode is on (HF_HUB_OFFLINE) and {repo} is not in the cache")
    if isinstance(exc, hf.FileMetadataError) or isinstance(
        exc.__cause__, getattr(hf, "FileMetadataError", ())
    ):
        return HubServerError(
            f"{endpoint} did not say which version of {filename or 'the file'} it serves "
            "(no ETag or X-Repo-Commit header): is HF_ENDPOINT a Hugging Face Hub?"
        )
    if isinstance(exc, hf.LocalEntryNotFoundError):
        if isinstance(exc.__cause__, hf.OfflineModeIsEnabled):
            return translate(exc.__cause__, repo_id=repo_id, endpoint=endpoint)
        if isinstance(exc.__cause__, HubError):
            return exc.__cause__
        return HubUnreachable(f"cannot reach {endpoint} and {repo} is not in the cache")
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return HubServerError(f"{endpoint} rejected the access token; {TOKEN_HOWTO}")
        return HubServerError(f"{endpoint} answered {status or 'an error'} for {repo}")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DiskFull(f"the disk is full ({exc.filename or 'while downloading'})")
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return HubServerError(
            f"{endpoint} sent {quoted(filename) if filename else 'a file'} at another size than "
            "it announced; nothing was kept (try again; a mirror or proxy may be broken)"
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        where = f" ({quoted(str(exc.filename))})" if exc.filename else ""
        return CannotWrite(f"cannot write the file: {exc.strerror or exc}{where}")
    return _translate_transport(exc, endpoint) or _unreadable(exc, endpoint)


def _translate_transport(exc: BaseException, endpoint: str) -> HubError | None:
    try:
        import httpx2
    except ImportError:  # pragma: no cover - older huggingface_hub
        return None
    if isinstance(exc, httpx2.TimeoutException):
        return HubTimeout(f"{endpoint} stopped answering (timed out)")
    if isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError):
        return HubUnreachable(f"cannot reach {endpoint} ({exc or type(exc).__name__})")
    if isinstance(exc, httpx2.TooManyRedirects):
        return HubServerError(f"{endpoint} redirected too many times (a redirect loop)")
    if isinstance(exc, httpx2.UnsupportedProtocol):
        return HubServerError(
            f"{endpoint} redirected to an address gguf-tui does not follow ({exc}); "
            "only http and https are"
        )
    if isinstance(exc, httpx2.DecodingError):
        return HubServerError(f"{endpoint} sent an answer that does not decode ({exc})")
    if isinstance(exc, httpx2.HTTPError | httpx2.InvalidURL):
        return HubServerError(f"talking to {endpoint} failed ({type(exc).__name__}: {exc})")
    return None


def _unreadable(exc: BaseException, endpoint: str) -> HubError | None:
    """An answer that parsed into something the library or gguf-tui cannot use: not UTF-8,
    not JSON, JSON of the wrong shape (a field missing, of the wrong type)."""
    from huggingface_hub.errors import HFValidationError

    if isinstance(exc, HFValidationError):  # a name the caller gave: theirs to report
        return None
    if isinstance(exc, UnicodeError):
        what = "text that is not UTF-8"
    elif isinstance(exc, ValueError) and type(exc).__name__ == "JSONDecodeError":
        what = "something that is not JSON"
    elif isinstance(exc, ValueError | TypeError | KeyError | AttributeError | IndexError):
        what = "JSON of an unexpected shape"
    else:
        return None
    log.debug("unreadable answer from %s", endpoint, exc_info=exc)
    return HubServerError(
        f"{endpoint} sent {what} ({type(exc).__name__}); is HF_ENDPOINT a Hugging Face Hub?"
    )
