"""Search: the grammar CQL and JQL share, each language's fields and functions, and the page tokens that
continue a search."""
