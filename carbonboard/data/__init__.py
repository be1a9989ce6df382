"""The emissions history on the server: path expansion, parsing, caching and aggregation."""
