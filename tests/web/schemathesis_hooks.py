"""schemathesis hooks for the Tandem API: PUT /api/v1/config takes TOML text."""

import json

import schemathesis


@schemathesis.serializer("application/toml")
def toml_serializer(ctx, value):
    # The schema says "a string"; negative tests may generate anything else.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()
