"""Administration services: roles and permissions (``roles``), the tenant feature menu
(``features``), bulk user import parsing (``bulk_import``) and the admin read facade
(``reads``). The HTTP layer (``protocols/http/admin``) enforces ``roles.authorize`` on every
endpoint; writes go through ``actions/admin.py``."""
