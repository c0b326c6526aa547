"""Request bodies parsed strictly: a key given twice in one JSON object is refused.

The standard parser keeps the last value of a repeated key silently (``participants``
or ``participant_id`` twice would score something other than what a reader of the body
sees); :class:`StrictJSONRoute` answers 422 naming the key instead.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.routing import APIRoute

__all__ = ["StrictJSONRoute"]


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            shown = key if len(key) <= 80 else key[:80] + "..."
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
                "field": shown, "value": None,
                "rule": f"key {shown!r} is given more than once in one JSON object; "
                        "give each key once"}])
        out[key] = value
    return out


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=_unique_pairs)
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON body refuses duplicate keys (422 naming the key)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def strict(request: Request):
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
