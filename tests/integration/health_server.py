"""A task for the health check tests: an HTTP server on 127.0.0.1:PORT that
logs every request and every signal it receives, one line each, to
events.log in its working directory (the sandbox), so a test can read what
the executor did, in order.

GET /health answers 200 `ok` while the file `ready` exists and `sick` does
not, else 503 `not ready` (or 500 `sick`). POST /quitquitquit and
/abortabortabort are logged and answered 200, and the server keeps running,
as do SIGTERM and SIGINT: so every step of a graceful shutdown is seen,
up to the SIGKILL that ends it. Usage: health_server.py PORT [--listen-when-ready]
"""
import http.server
import os
import signal
import sys
import time


def log(line):
    with open("events.log", "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log(f"GET {self.path}")
        if os.path.exists("sick"):
            self.answer(500, "sick")
        elif os.path.exists("ready"):
            self.answer(200, "ok\n")
        else:
            self.answer(503, "not ready")

    def do_POST(self):
        log(f"POST {self.path}")
        self.answer(200, "bye")

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _: log(signal.Signals(s).name))
    if "--listen-when-ready" in sys.argv:
        while not os.path.exists("ready"):
            time.sleep(0.05)
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    log("listening")
    server.serve_forever()


main()
