"""Page sections. Each module exposes ``layout() -> Component`` and
``register_callbacks(app, source) -> None``; its callbacks read the current selection from the
``ids.SELECTION`` store and data only from the server-side ``source``
(:class:`carbonboard.data.source.RunSource`), never from the browser."""
