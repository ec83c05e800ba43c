"""Services: the platform's rules, written against the ports only."""
