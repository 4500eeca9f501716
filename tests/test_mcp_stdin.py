"""Malformed JSON-RPC lines sent to ``layeredit mcp`` get JSON-RPC errors; the server keeps serving."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("mcp", reason="the MCP server needs the agent extra")

from layeredit.integrations.mcp_stdin import INVALID_REQUEST, PARSE_ERROR, problem  # noqa: E402

BAD_LINES = {
    b"{not json": PARSE_ERROR,
    b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b', "method": "ping"}': PARSE_ERROR,
    b"[" * 100000: PARSE_ERROR,
    b"[1, 2]": INVALID_REQUEST,
    b'"just a string"': INVALID_REQUEST,
    b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}': INVALID_REQUEST,
    b'{"jsonrpc": "2.0", "id": 7}': INVALID_REQUEST,
    b"\xff\xfe binary": PARSE_ERROR,
    # JSON to Python's parser that the SDK's refuses (found by tests/test_admission_fuzz_files.py)
    b'\xef\xbb\xbf{"jsonrpc": "2.0", "id": 1, "method": "ping"}': PARSE_ERROR,
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"a": "\\ud800"}}': PARSE_ERROR,
}

# Lines the SDK parses as JSON but drops with a note on stderr (or takes for a notification).
SDK_DROPPED = {
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}': 1,
    b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": [1]}': 5,
    b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}': None,
    b'{"jsonrpc": "2.0", "id": true, "method": "ping"}': None,
}


@pytest.mark.parametrize("line, code", BAD_LINES.items(), ids=range(len(BAD_LINES)))
def test_each_malformed_line_has_an_error_answer(line, code):
    answer = problem(line)
    assert answer is not None and answer["error"]["code"] == code and answer["jsonrpc"] == "2.0"
    json.dumps(answer)  # answerable as it is


def test_well_formed_messages_pass_through():
    assert problem(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
    assert problem(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}') is None


def test_the_server_answers_every_bad_line_and_then_a_ping():
    # The ping's carriage return (JSON whitespace) would end the SDK's line there.
    lines = [*BAD_LINES, *SDK_DROPPED, b'{"jsonrpc": "2.0",\r"id": 3, "method": "ping"}']
    done = subprocess.run(
        [sys.executable, "-m", "layeredit.cli", "mcp"], input=b"\n".join(lines) + b"\n",
        capture_output=True, timeout=120,
    )  # fmt: skip
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    codes = [*BAD_LINES.values(), *[INVALID_REQUEST] * len(SDK_DROPPED)]
    assert [a.get("error", {}).get("code") for a in answers[:-1]] == codes
    assert [a["id"] for a in answers[len(BAD_LINES) : -1]] == list(SDK_DROPPED.values())
    assert answers[-1] == {"jsonrpc": "2.0", "id": 3, "result": {}}
    assert b"Traceback" not in done.stderr


def test_requests_the_sdk_would_drop_get_an_invalid_request_answer_with_their_id():
    for line, request_id in SDK_DROPPED.items():
        answer = problem(line)
        assert answer is not None and answer["error"]["code"] == INVALID_REQUEST, line
        assert answer["id"] == request_id


# What the SDK does once it serves (mcp >= 2.3): descriptor 1 pointed at stderr, so stray output
# misses the wire. Answers written to sys.stdout after that would land on stderr.
DIVERTED_SERVER = """
import os, sys
from layeredit.integrations.mcp_stdin import guard_stdin
lines = sys.stdin.buffer.read()
read_end, write_end = os.pipe()
guard_stdin(source=os.fdopen(read_end, "rb"))
os.dup2(2, 1)
with os.fdopen(write_end, "wb") as client:  # the client's lines arrive once the SDK serves
    client.write(lines)
sys.stdin.readline()  # the good line the filter passed on: every line before it has been answered
"""


def test_answers_reach_the_wire_even_after_the_sdk_diverts_standard_output():
    lines = [b"{not json", b"[1, 2]", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}']
    done = subprocess.run(
        [sys.executable, "-c", DIVERTED_SERVER], input=b"\n".join(lines) + b"\n", capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [answer["error"]["code"] for answer in answers] == [PARSE_ERROR, INVALID_REQUEST]
    assert b"jsonrpc" not in done.stderr
