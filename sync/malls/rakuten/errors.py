"""Rakuten error bodies: the inquiry API's `error{}` and the RMS-wide `errors[]` shapes."""
from sync.malls.errors import MalformedResponse
from sync.malls.http import HttpReply


def extract_error(reply: HttpReply) -> tuple[str | None, str | None, dict[str, str]]:
    """(code, reason, targets) from either error shape: inquiry `error{}` or RMS-wide `errors[]`."""
    try:
        data = reply.json()
    except MalformedResponse:
        return None, reply.text[:200].strip() or None, {}
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        targets = err.get("targets") if isinstance(err.get("targets"), dict) else {}
        return err.get("code"), err.get("message"), {str(k): str(v) for k, v in targets.items()}
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        first = data["errors"][0] if isinstance(data["errors"][0], dict) else {}
        return first.get("code"), first.get("message"), {}
    return None, reply.text[:200].strip() or None, {}
