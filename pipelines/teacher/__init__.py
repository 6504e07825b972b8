"""The teacher and student web app: class pages, cards, check-ins and student voice."""
