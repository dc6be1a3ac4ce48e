"""Per-request cost of lambdactl's HTTP/1.1 parser beside h11's, in one run.

Usage: python benchmarks/http_parse.py [--rounds 20000]   (h11 is measured when installed)

Both parse the request boto3 sends for a warm Invoke (head, 2-byte body) on a keep-alive
connection and frame a 200 answer with a small JSON body: what the server does per warm invoke.
Prints microseconds per request for each, and a head flooded with 85 repeated headers.
Budget: the server's whole warm-invoke overhead target is 1 ms (250 us later).
"""

from __future__ import annotations

import argparse
import time

INVOKE = (
    b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nAccept-Encoding: identity\r\n"
    b"X-Amz-Invocation-Type: RequestResponse\r\nX-Amz-Log-Type: None\r\nUser-Agent: Boto3/1.44.8 md/Botocore#1.44.8 "
    b"ua/2.1 os/linux#6.8 md/arch#x86_64 lang/python#3.11 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.44.8\r\n"
    b"X-Amz-Date: 20261205T001122Z\r\nX-Amz-Content-SHA256: 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/lambda/aws4_request, "
    b"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
    b"amz-sdk-invocation-id: 7d1e0c1a-5b0e-4d8c-9c6e-0b4c3a1f2e3d\r\namz-sdk-request: attempt=1\r\nContent-Length: 2\r\n\r\n{}"
)
FLOOD = INVOKE.replace(b"Content-Length: 2\r\n", b"X-A: b\r\n" * 85 + b"Content-Length: 2\r\n", 1)
ANSWER_HEADERS = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST"), ("x-amzn-RequestId", "7d1e0c1a")]


def ours(data: bytes, rounds: int) -> float:
    from lambdactl.httpwire import body_length, parse_head, response

    buf = bytearray()
    t0 = time.perf_counter()
    for _ in range(rounds):
        buf += data
        i = buf.find(b"\r\n\r\n")
        head = bytes(buf[:i])
        del buf[: i + 4]
        req = parse_head(head)
        n = body_length(req) or 0
        body = bytes(buf[:n])
        del buf[:n]
        response(200, body, list(ANSWER_HEADERS), close=not req.keep_alive)
    return (time.perf_counter() - t0) / rounds * 1e6


def with_h11(data: bytes, rounds: int) -> float:
    import h11

    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16 * 1024)
    t0 = time.perf_counter()
    for _ in range(rounds):
        conn.receive_data(data)
        body = b""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        out = conn.send(h11.Response(status_code=200, headers=[*ANSWER_HEADERS, ("Content-Length", str(len(body)))]))
        out += conn.send(h11.Data(data=body))  # type: ignore[operator]
        out += conn.send(h11.EndOfMessage())  # type: ignore[operator]
        conn.start_next_cycle()
    return (time.perf_counter() - t0) / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    try:
        import h11  # noqa: F401

        has_h11 = True
    except ModuleNotFoundError:
        has_h11 = False
    for label, data in (("boto3 Invoke request", INVOKE), ("same with 85 repeated headers", FLOOD)):
        a = min(ours(data, args.rounds) for _ in range(3))
        line = f"{label:<32} lambdactl.httpwire {a:6.1f} us/request"
        if has_h11:
            b = min(with_h11(data, args.rounds) for _ in range(3))
            line += f"   h11 {b:6.1f} us/request   h11/ours {b / a:.1f}x"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
