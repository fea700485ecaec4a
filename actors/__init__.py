"""Ray actor classes: thin shells that own state and mailboxes and call into `sigecve`."""
