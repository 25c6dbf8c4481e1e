"""Services: auth, mailauth, spam, dns, ai... (no protocol knowledge, no direct SQL writes)."""
