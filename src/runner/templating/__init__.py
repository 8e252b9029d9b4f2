"""The one template grammar: requests rendered, and the references plan and capture read."""
