"""One call to the local API, as the smoke and browser tests make it (standard library only)."""

import json
import urllib.error
import urllib.parse
import urllib.request


def call(base, method, path, token=None, body=None, headers=None, form=None, raw=None):
    """`body` is sent as JSON, `form` as a form, `raw` (JSON text) as it is, byte for byte.
    Returns (status, parsed JSON or None, headers)."""
    request = urllib.request.Request(path if path.startswith("http") else base + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if raw is not None:
        data = raw.encode()
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, data=data, timeout=120) as response:
            status, raw, hdrs = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, hdrs = error.code, error.read(), error.headers
    try:
        return status, (json.loads(raw) if raw else None), hdrs
    except ValueError:
        return status, None, hdrs
