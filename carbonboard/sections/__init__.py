"""Page sections. Each module exposes ``layout() -> Component`` and
``register_callbacks(app, store) -> None``; its callbacks read the current selection from the
``ids.SELECTION`` store and data from the server-side ``store``, never from the browser."""
