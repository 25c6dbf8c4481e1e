"""Small message bodies in the metadata store (second core-area migration: ``01`` + area ``01``).

A delivered message of at most ``[storage] inline_blob_max`` bytes keeps its encrypted bytes
(the blob file format, :meth:`rongmail.store.fs.blobs.FsBlobStore.seal`) in ``blob_inline``,
written in the delivery's own transaction: one flush makes the message durable, instead of a
blob flush followed by the metadata commit (``rongmail.store.inline_blobs``). Keyed like
``blob_ref``; a row lives as long as its blob is referenced (``store.sql.blobs.drop_inline``).
"""

SQL = """
CREATE TABLE blob_inline (
  tenant_id {bigint} NOT NULL,
  blob_id TEXT NOT NULL,
  data {blob} NOT NULL,
  PRIMARY KEY (tenant_id, blob_id)
)
"""
