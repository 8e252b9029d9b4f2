"""The one template grammar.

Rendering requests, and the references plan and capture read from templates.
"""
