"""The Telegram delivery the core's service uses: the channel to one chat (``channel``) and
the one outgoing limiter (``throttle``), engine messages as Bot API calls (``render``,
``keyboards``, ``split``, ``files``), the touch loop (``touches``), the managers' alert
cards (``alerts``), admin views (``views``) and the staff's callback data (``callbacks``).

Kept in ``bot/`` because the service calls it (a ``Channel``, a ``Notifier``); it never
imports ``handlers``. Building the Bot and the Dispatcher and running them is ``app/``'s.
"""
