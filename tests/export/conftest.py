"""Helpers shared by the export tests."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.IGNORECASE | re.DOTALL)
# A reference the browser would fetch or follow from the markup itself.
EXTERNAL_REF = re.compile(r"""\b(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="session")
def external_refs() -> Callable[[str], list[str]]:
    """``external_refs(html)``: the external src/href/action references in a page's markup.

    Script bodies are left out: URLs inside plotly.js strings are inert text, and the browser tests
    prove with the network disabled that nothing is fetched.
    """

    def find(html: str) -> list[str]:
        markup = SCRIPT_BODY.sub(r"\1\2", html)
        return [m.group(0) for m in EXTERNAL_REF.finditer(markup)]

    return find
