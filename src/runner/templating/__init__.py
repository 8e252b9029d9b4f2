"""The one template grammar.

Rendering requests, the references plan and capture read from templates, and the limits
on what a template may cost (checked while rendering, and while planning for constants).
"""
