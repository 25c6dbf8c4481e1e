"""Operations: import/export formats, backups, doctor checks."""
