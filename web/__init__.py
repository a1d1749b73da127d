"""The managers' web dashboard: a face like ``handlers/`` (no SQL, no funnel logic).

``web.app.build_app`` makes the aiohttp application; ``leadbot run`` mounts it next to the
webhook and ``leadbot web`` serves it alone. Access is for ADMIN_IDS only (``web.auth``).
"""
