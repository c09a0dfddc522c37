"""Patient-facing text is marked where it is defined and translated where it is shown.

`N_("…")` marks a message for the catalogue without translating it (a module constant is built
before anyone's language is known); templates and handlers pass it through `_()` at render time.
"""


def N_(message: str) -> str:
    """Mark `message` for translation; it is translated later, when rendered."""
    return message
