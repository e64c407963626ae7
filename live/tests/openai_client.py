"""Drives a live Peer2Prompt entrance with the official `openai` package.

Usage: python openai_client.py BASE_URL MODEL MARKER
Prints one JSON object: the models listed, a non-streamed answer, a
streamed answer (its pieces joined), how many pieces it came in, and the
extension fields of the non-streamed answer. The Rust test checks them.
"""

import json
import sys

from openai import OpenAI

base, model, marker = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=120)

models = [m.id for m in client.models.list()]
whole = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": f"{marker} whole"}]
)
pieces = []
for chunk in client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": f"{marker} streamed"}],
    stream=True,
):
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    unknown_status = 200
except Exception as e:  # the client raises NotFoundError
    unknown_status = getattr(e, "status_code", -1)

print(json.dumps({
    "models": models,
    "whole": whole.choices[0].message.content,
    "usage": [whole.usage.prompt_tokens, whole.usage.completion_tokens],
    "extension": (whole.model_extra or {}).get("peer2prompt"),
    "streamed": "".join(pieces),
    "pieces": len(pieces),
    "unknown_model_status": unknown_status,
}))
