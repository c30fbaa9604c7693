"""HTTP edge cases of the scheduler's API server (src/net/http_server.c):
error answers always carry a message and a code, and requests whose body
framing is ambiguous are refused at once instead of hanging."""
import json
import socket

import pytest


def raw_request(c, head, body=b""):
    """Send raw bytes, keep the connection open (a peer that would hang the
    server waits for the answer), return (status, json body)."""
    with c.tls().wrap_socket(socket.create_connection(("127.0.0.1", c.port), timeout=20),
                             server_hostname="127.0.0.1") as s:
        s.sendall(head.replace(b"\n", b"\r\n") + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < content_length(data):
            chunk = s.recv(65536)  # a hang ends in socket.timeout: the test fails
            if not chunk:
                break
            data += chunk
    head_text, _, payload = data.partition(b"\r\n\r\n")
    status = int(head_text.split(b" ", 2)[1])
    return status, json.loads(payload[:content_length(data)])


def content_length(data):
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v)
    return 1 << 30


def assert_error(body, code):
    assert isinstance(body.get("error"), str) and body["error"], body
    assert body.get("code") == code, body


@pytest.fixture
def scheduler(cluster):
    cluster.start_scheduler()
    return cluster


@pytest.mark.parametrize("path", [
    "/api/v1/jobs/local/r%FFole/devel/x",        # echoed job key part
    "/api/v1/tasks?state=RUNN%FE%FFING",          # echoed query value
    "/api/v1/no%C0%AFsuch",                       # echoed path (overlong '/')
])
def test_error_echoing_invalid_utf8_has_message_and_code(scheduler, path):
    status, body = scheduler.api_raw(path)
    assert status in (400, 404), (status, body)
    answer = json.loads(body)
    assert_error(answer, "INVALID" if status == 400 else "NOT_FOUND")
    assert "\\x" in answer["error"], answer  # the bad bytes are shown, escaped


def test_two_different_content_lengths_are_refused(scheduler):
    status, body = raw_request(scheduler, b"POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n"
                               b"Content-Length: 2\nContent-Length: 20\n", b"{}")
    assert status == 400
    assert_error(body, "INVALID")
    assert "Content-Length" in body["error"]


def authorized(c):
    """The headers a request needs to reach the job create handler."""
    return (b"Content-Type: application/json\nAuthorization: Bearer " + c.token().encode() + b"\n")


def test_same_content_length_twice_is_accepted(scheduler):
    status, body = raw_request(scheduler, b"POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n"
                               + authorized(scheduler) +
                               b"Content-Length: 2\nContent-Length: 2\n", b"{}")
    assert status == 400  # read normally: the job is what is invalid
    assert "Content-Length" not in body["error"], body


def test_unknown_transfer_encoding_is_refused_at_once(scheduler):
    status, body = raw_request(scheduler, b"POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n"
                               b"Transfer-Encoding: gzip\n", b"{")
    assert status == 501
    assert_error(body, "NOT_IMPLEMENTED")


def test_transfer_encoding_with_content_length_is_refused(scheduler):
    status, body = raw_request(scheduler, b"POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n"
                               b"Transfer-Encoding: chunked\nContent-Length: 100\n", b"2\r\n{}\r\n")
    assert status == 400
    assert_error(body, "INVALID")


def test_chunked_body_still_works(scheduler):
    status, body = raw_request(scheduler, b"POST /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n"
                               + authorized(scheduler) +
                               b"Transfer-Encoding: chunked\n", b"2\r\n{}\r\n0\r\n\r\n")
    assert status == 400  # the body was read: the (empty) job is invalid
    assert_error(body, "INVALID")
    assert "required" in body["error"], body
    assert scheduler.api_ok("/health")


# What Chromium 156 sends when a page of the scheduler is opened
# (captured), with the headers the API needs and cookies other sites on the
# scheduler's host may have set.
BROWSER_HEADERS = (
    b"Connection: keep-alive\n"
    b'sec-ch-ua: "Not:A-Brand";v="8", "Chromium";v="156"\n'
    b"sec-ch-ua-mobile: ?0\n"
    b'sec-ch-ua-platform: "Linux"\n'
    b"Upgrade-Insecure-Requests: 1\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/156.0.0.0 Safari/537.36\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    b"*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\n"
    b"Sec-Fetch-Site: none\nSec-Fetch-Mode: navigate\nSec-Fetch-User: ?1\nSec-Fetch-Dest: document\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\nAccept-Language: en-US,en;q=0.9\n")


def test_request_headers_within_the_connection_buffer_are_served_larger_refused(scheduler):
    """A connection's buffer is 3 KiB (an idle agent must cost little,
    src/net/http_server.h HTTP_CONNECTION_MEMORY): a browser's headers with
    the API's and 0.4 KiB of cookies (17 headers), or one header of 2 KiB,
    are served; 8 KiB of headers are answered 431 at once, and the server
    goes on serving."""
    head = b"GET /api/v1/jobs HTTP/1.1\nHost: 127.0.0.1\n" + authorized(scheduler)
    cookies = b"Cookie: " + b"; ".join(b"site%d=%s" % (i, b"c" * 90) for i in range(4)) + b"\n"
    status, body = raw_request(scheduler, head + BROWSER_HEADERS + cookies)
    assert status == 200, body
    status, body = raw_request(scheduler, head + b"X-Pad: " + b"a" * 2048 + b"\n")
    assert status == 200, body
    with scheduler.tls().wrap_socket(socket.create_connection(("127.0.0.1", scheduler.port), timeout=20),
                                     server_hostname="127.0.0.1") as s:
        s.sendall((head + b"X-Pad: " + b"a" * 8000 + b"\n\n").replace(b"\n", b"\r\n"))
        assert s.recv(100).startswith(b"HTTP/1.1 431 ")
    assert scheduler.api_ok("/health")
