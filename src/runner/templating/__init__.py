"""The one template grammar: rendering requests, and the references plan and capture read from it."""
