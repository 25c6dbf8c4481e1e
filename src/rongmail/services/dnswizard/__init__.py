"""The DNS wizard: compute every record a mail domain needs (``plan``), export it as a zone file
(``zonefile``), check it against live DNS (``check``), and push it (``push``) by RFC 2136
dynamic update or a provider's API. Explanations are catalogue keys (zh-CN first)."""
