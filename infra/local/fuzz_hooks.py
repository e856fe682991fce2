"""Schemathesis hooks of the API fuzz step (fuzz.toml names this file).

Bodies that are not UTF-8 reach the API, behind API Gateway, base64-encoded, where the
JSON extractor refuses them with a 400; `cargo lambda watch`, which stands in for API
Gateway locally, fails on them with its own 500 before any function runs. The fuzzer's
random-bytes bodies are therefore sent as their UTF-8 reading (still malformed JSON).

Hypothesis names a filter's lambda by parsing its source with `ast.parse`, which under
several workers at once on Python 3.11 can fail with "AST constructor recursion depth
mismatch" and abort an operation's tests; the name only labels the strategy, so a
plain one stands in.
"""

import schemathesis
from hypothesis.internal import lambda_sources

lambda_sources.lambda_description = lambda f: "lambda"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if isinstance(case.body, (bytes, bytearray)):
        try:
            case.body.decode("utf-8")
        except UnicodeDecodeError:
            case.body = case.body.decode("utf-8", errors="replace").encode("utf-8")
