"""File-system backends: the encrypted, content-addressed blob store and the key ring."""
