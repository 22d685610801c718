"""The HTTP protocol uvicorn runs for the app (`UVICORN_OPTIONS["http"]`): uvicorn's httptools
implementation, answering what it refuses itself in the API's one JSON error shape.

uvicorn answers a request its parser cannot read (an unknown method such as `FOO`, a malformed
request line or header, a bad Content-Length) with a plain-text 400 before the application sees
it. Here that answer is `{"error": {"status": 400, "code": "BAD_REQUEST", "message"}}` like every
other error (api/errors.py); what the application answers, 404, 405 and 500 included, is shaped by
its exception handlers.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import error_body

UNREADABLE_REQUEST = (
    "the request is not valid HTTP/1.1 (an unknown method, or a malformed request line or header); "
    "nothing was done"
)


class HttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps(error_body(400, "BAD_REQUEST", UNREADABLE_REQUEST)).encode()
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
