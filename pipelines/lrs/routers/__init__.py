"""One router per xAPI resource."""
