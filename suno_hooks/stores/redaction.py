"""Store URLs and DSNs made safe to show: every password, token or key they carry is replaced by
`***`, whether it sits in the userinfo (`redis://:pw@host`), a query parameter
(`?password=pw`, `?api_key=...`) or a libpq conninfo string (`host=db password='p w'`)."""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

__all__ = ["MASK", "is_secret_name", "redacted_text", "redacted_url"]

MASK = "***"
"""What a password, token or key is replaced by."""

# Names such as password, passwd, pass, pwd, sslpassword, token, secret, key, api_key,
# access_key, auth: matched anywhere in the (decoded, case-folded) parameter name.
_SECRET_NAME = re.compile(r"pass|pwd|token|secret|key|auth|credential", re.IGNORECASE)

# One `name = value` pair of a conninfo string; a value is either single-quoted (backslash
# escapes, possibly unterminated) or runs to the next blank.
_CONNINFO_PAIR = re.compile(
    r"(?P<name>[A-Za-z_][\w.-]*)(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*(?:'|\\?$)|\S*)",
    re.DOTALL,
)
_CONNINFO_START = re.compile(r"\s*[A-Za-z_][\w.-]*\s*=")


def is_secret_name(name: str) -> bool:
    """True when a parameter named `name` (percent-encoding decoded) may hold a credential."""
    return bool(_SECRET_NAME.search(unquote_plus(name)))


def redacted_url(url: str) -> str:
    """`url` (a store URL or a libpq conninfo string) with every credential it carries replaced
    by `***`; the scheme, user name, host, path and other parameters are kept for messages."""
    if not isinstance(url, str):
        return f"<{type(url).__name__}>"  # never echo bytes or objects that may hold a password
    if _CONNINFO_START.match(url):
        return _redacted_conninfo(url)
    head, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    at, userinfo, secret = _userinfo(rest)
    if secret is not None:
        masked = f"{userinfo.split(':', 1)[0]}:{MASK}" if ":" in userinfo else MASK
        rest = f"{masked}{rest[at:]}"
    query_at = rest.find("?")
    if query_at < 0:
        return f"{head}{sep}{rest}"
    query, hash_mark, fragment = rest[query_at + 1 :].partition("#")
    return f"{head}{sep}{rest[: query_at + 1]}{_redacted_query(query)}{hash_mark}{fragment}"


def redacted_text(text: str, url: str) -> str:
    """`text` (an error message that may quote `url` or parts of it) with `url` and every
    credential in it replaced: for messages of libraries that echo what they were given."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _userinfo(rest: str) -> tuple[int, str, str | None]:
    """Where the userinfo of `rest` (a URL after its scheme) ends (its `@`, else -1), the
    userinfo, and the credential in it: the password, or all of it when it looks like one."""
    query_at = rest.find("?")
    at = (rest if query_at < 0 else rest[:query_at]).rfind("@")
    if at < 0:
        return -1, "", None
    userinfo = rest[:at]
    if ":" in userinfo:
        return at, userinfo, userinfo.split(":", 1)[1]
    return at, userinfo, userinfo if _looks_like_a_credential(userinfo) else None


def _looks_like_a_credential(userinfo: str) -> bool:
    # `redis://secret@host` and `https://TOKEN@host` carry no colon; a short name is a user.
    decoded = unquote(userinfo)
    return len(decoded) >= 20 or _SECRET_NAME.search(decoded) is not None


def _redacted_query(query: str) -> str:
    parts = re.split(r"([&;])", query)
    for index in range(0, len(parts), 2):
        name, eq, _ = parts[index].partition("=")
        if eq and is_secret_name(name):
            parts[index] = f"{name}={MASK}"
    return "".join(parts)


def _redacted_conninfo(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]):
            return match[0]
        return f"{match['name']}{match['eq']}{MASK}"

    return _CONNINFO_PAIR.sub(mask, text)


def _secrets(url: str) -> set[str]:
    """Every credential text `url` holds, as written and decoded (at least 3 characters, so
    masking never eats ordinary words)."""
    found: set[str] = set()
    if not _CONNINFO_START.match(url):
        rest = url.partition("://")[2] if "://" in url else url
        secret = _userinfo(rest)[2]
        if secret is not None:
            found.add(secret)
        query_at = rest.find("?")
        if query_at >= 0:
            for pair in re.split(r"[&;]", rest[query_at + 1 :].partition("#")[0]):
                name, eq, value = pair.partition("=")
                if eq and is_secret_name(name):
                    found.add(value)
    else:
        for match in _CONNINFO_PAIR.finditer(url):
            if is_secret_name(match["name"]):
                value = match["value"]
                found.add(value)
                if value.startswith("'"):
                    inner = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
                    found.update({inner, re.sub(r"\\(.)", r"\1", inner)})
    decoded = {unquote_plus(secret) for secret in found} | {unquote(secret) for secret in found}
    return {secret for secret in found | decoded if len(secret) >= 3}
