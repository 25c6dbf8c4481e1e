"""RongMail."""
