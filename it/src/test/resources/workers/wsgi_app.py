import os


def application(environ, start_response):
    body = ("hello from pid %d via gunicorn\n" % os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
