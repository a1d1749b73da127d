"""What a test scripts: updates to deliver, failures to inject, files to serve."""

from __future__ import annotations

import copy
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from fakes.bot_api.base import FakeBotState
from fakes.bot_api.checks import business_chat_key
from fakes.bot_api.html import utf16_len
from fakes.bot_api.records import Failure, StarSubscription


class Scripting(FakeBotState):
    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 3,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error (429 by default)."""
        name = self._canonical.get(method.lower(), method)
        self._failures.setdefault(name, deque()).append(
            Failure(
                status=status, retry_after=retry_after, description=description, remaining=count
            )
        )

    def html_error_next(self, method: str, status: int = 502, count: int = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with an nginx HTML error page (what a
        proxy in front of a self-hosted Bot API returns when it cannot reach it); the call
        is not carried out."""
        name = self._canonical.get(method.lower(), method)
        self._html_errors.setdefault(name, deque()).append([status, count])

    def answer_late(self, method: str, seconds: float, count: int | None = 1) -> None:
        """Carry out the next ``count`` calls of ``method`` (all while ``count`` is None) at
        once, but answer only after ``seconds``: a client with a shorter time-out gives up on
        a message that was delivered. ``seconds=0`` ends it."""
        name = self._canonical.get(method.lower(), method)
        if seconds <= 0:
            self._late.pop(name, None)
        else:
            self._late[name] = [seconds, -1 if count is None else count]

    def block_user(self, chat_id: int | str) -> None:
        """Make every call targeting ``chat_id`` fail with 403 "bot was blocked by the user"."""
        self.blocked.add(chat_id)

    def unblock_user(self, chat_id: int | str) -> None:
        self.blocked.discard(chat_id)

    # ---------------------------------------------------------------- update injection

    def push_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; assigns ``update_id`` if missing. Returns it."""
        queued = self._prepare_update(update)
        self.pending_updates.append(queued)
        self._updates_event.set()
        return queued

    def push_updates(self, updates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.push_update(update) for update in updates]

    def add_channel(self, chat: str, *, bot_is_admin: bool = True) -> None:
        """A channel (``@name`` or ``-100…``) for ``getChatMember``; nobody has joined yet."""
        self.channel_members.setdefault(chat, set())
        self.channel_admin[chat] = bot_is_admin

    def join_channel(self, chat: str, user_id: int, joined: bool = True) -> None:
        """The user joins (or, with ``joined=False``, leaves) the channel."""
        members = self.channel_members.setdefault(chat, set())
        if joined:
            members.add(user_id)
        else:
            members.discard(user_id)

    def join_request_update(
        self,
        chat: int,
        user_id: int,
        *,
        link_name: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        """A ``chat_join_request`` to the channel ``chat`` (-100…) through an invite link
        named ``link_name``; the request stays pending until approved or declined."""
        user = self._remember_user(user_id, first_name, None, None, language_code)
        self.channel_members.setdefault(str(chat), set())
        self.channel_admin.setdefault(str(chat), True)
        self.join_requests.add((str(chat), user_id))
        link: dict[str, Any] = {
            "invite_link": f"https://t.me/+{secrets.token_urlsafe(9)}",
            "creator": self._bot_user(),
            "creates_join_request": True,
            "is_primary": False,
            "is_revoked": False,
        }
        if link_name is not None:
            link["name"] = link_name
        request = {
            "chat": {"id": chat, "type": "channel", "title": f"Channel {chat}"},
            "from": user,
            "user_chat_id": user_id,
            "date": int(time.time()),
            "invite_link": link,
        }
        return {"chat_join_request": request}

    def connect_business(
        self,
        owner_id: int,
        *,
        connection_id: str | None = None,
        can_reply: bool = True,
        enabled: bool = True,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """The owner of a business account connects the bot (Telegram Settings → Telegram
        Business → Chatbots), or changes its rights or turns it off (same ``connection_id``):
        build the ``business_connection`` update, and let the Bot API know the connection."""
        if not self.business_mode:
            raise ValueError("Telegram lets an account connect only a bot in Business Mode")
        owner = self._remember_user(owner_id, first_name, username)
        connection_id = connection_id or "BCkT" + secrets.token_urlsafe(12)
        previous = self.business_connections.get(connection_id, {})
        described: dict[str, Any] = {
            "id": connection_id,
            "user": owner,
            "user_chat_id": owner_id,
            "date": previous.get("date", int(time.time())),
            "is_enabled": enabled,
            "rights": {"can_reply": True} if can_reply else {},
        }
        self.business_connections[connection_id] = described
        return {"business_connection": copy.deepcopy(described)}

    def business_message_update(
        self,
        connection_id: str,
        customer_id: int,
        text: str | None,
        *,
        from_owner: bool = False,
        first_name: str | None = None,
        language_code: str | None = None,
        is_from_offline: bool = False,
    ) -> dict[str, Any]:
        """A message in the business account's chat with ``customer_id``: the customer's, or
        with ``from_owner`` the owner's (``is_from_offline``: sent by the account by itself,
        a greeting or an away message)."""
        described = self.business_connections[connection_id]
        customer = self._remember_user(customer_id, first_name, None, None, language_code)
        sender = dict(described["user"]) if from_owner else customer
        where = business_chat_key(connection_id, customer_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(where),
            "from": sender,
            "chat": self._chat(customer_id),
            "date": int(time.time()),
            "business_connection_id": connection_id,
        }
        if text is not None:
            message["text"] = text
        if is_from_offline:
            message["is_from_offline"] = True
        self._keep_message(where, message)
        return {"business_message": copy.deepcopy(message)}

    def business_callback_update(
        self, connection_id: str, customer_id: int, data: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """The customer presses a button under a message the bot sent in a business chat
        (by default the newest one there)."""
        where = business_chat_key(connection_id, customer_id)
        if message_id is None:
            message_id = self._newest_message(where)
            if message_id is None:
                raise LookupError(f"the bot has sent nothing in the business chat {where}")
        message = self.messages[(where, message_id)]
        query = {
            "id": str(secrets.randbits(62)),
            "from": self._remember_user(customer_id),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash(("chat_instance", where)))),
            "data": data,
        }
        return {"callback_query": query}

    def message_update(
        self,
        user_id: int,
        text: str | None,
        *,
        first_name: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        contact: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build (not queue) a private-chat message update from ``user_id``.

        ``language_code`` is left out unless given (Telegram omits it when the client does not
        say); once given it sticks to the user, as a client's language does.
        """
        user = self._remember_user(user_id, first_name, username, last_name, language_code)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
        if contact is not None:
            message["contact"] = contact
        return {"message": message}

    def contact_update(
        self,
        user_id: int,
        phone: str,
        *,
        first_name: str | None = None,
        own: bool = True,
    ) -> dict[str, Any]:
        """Build a message sharing a contact; ``own=False`` shares someone else's card."""
        user = self._remember_user(user_id, first_name)
        contact: dict[str, Any] = {"phone_number": phone, "first_name": user["first_name"]}
        if own:
            contact["user_id"] = user_id
        else:
            contact["first_name"] = "Someone Else"
        return self.message_update(user_id, None, contact=contact)

    def callback_update(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Build a button press; by default on the latest message the bot sent to ``user_id``."""
        user = self._remember_user(user_id, first_name, username)
        if message_id is None:
            message_id = self._newest_message(user_id)
        message = self.messages.get((user_id, message_id)) if message_id is not None else None
        if message is None:
            message = {
                "message_id": message_id or self._next_message_id(user_id),
                "from": self._bot_user(),
                "chat": self._chat(user_id),
                "date": int(time.time()),
                "text": "...",
            }
        query = {
            "id": str(secrets.randbits(62)),
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash(("chat_instance", user_id)))),
            "data": data,
        }
        return {"callback_query": query}

    def my_chat_member_update(self, user_id: int, status: str = "kicked") -> dict[str, Any]:
        """Build the update Telegram sends when a user blocks (``kicked``) or unblocks the bot."""
        user = self._remember_user(user_id)
        old_status = "member" if status == "kicked" else "kicked"

        def member(state: str) -> dict[str, Any]:
            body: dict[str, Any] = {"status": state, "user": self._bot_user()}
            if state == "kicked":
                body["until_date"] = 0
            return body

        return {
            "my_chat_member": {
                "chat": self._chat(user_id),
                "from": user,
                "date": int(time.time()),
                "old_chat_member": member(old_status),
                "new_chat_member": member(status),
            }
        }

    def pre_checkout_update(
        self,
        user_id: int,
        total_amount: int,
        *,
        currency: str = "XTR",
        payload: str = "payload",
    ) -> dict[str, Any]:
        """Build a pre_checkout_query as Telegram sends before charging the user."""
        return {
            "pre_checkout_query": {
                "id": str(secrets.randbits(62)),
                "from": self._remember_user(user_id),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
            }
        }

    # ---------------------------------------------------------------- paying invoice links

    def invoice_checkout_update(self, user_id: int, link: str) -> dict[str, Any]:
        """The pre_checkout_query Telegram sends when ``user_id`` pays the invoice behind
        ``link`` (one the bot created with createInvoiceLink)."""
        invoice = self.invoice_links.get(link)
        if invoice is None:
            raise AssertionError(f"the bot created no invoice link {link!r}")
        update = self.pre_checkout_update(
            user_id, invoice["total_amount"], currency=invoice["currency"],
            payload=invoice["payload"],
        )  # fmt: skip
        self._checkouts[update["pre_checkout_query"]["id"]] = (user_id, link)
        return update

    def successful_payment_update(self, checkout: Mapping[str, Any]) -> dict[str, Any]:
        """The payment Telegram reports after the bot accepted ``checkout`` (an update from
        ``invoice_checkout_update``). For a subscription link it is the first of a Stars
        subscription (``is_recurring``, ``is_first_recurring``, the period's end), which
        ``renewal_update`` renews and editUserStarSubscription may cancel."""
        query_id = str(checkout["pre_checkout_query"]["id"])
        if self.checkout_answers.get(query_id) is not True:
            raise AssertionError(
                f"Telegram charges only after answerPreCheckoutQuery(ok=True) for {query_id}"
            )
        user_id, link = self._checkouts[query_id]
        invoice = self.invoice_links[link]
        charge_id = "stxt" + secrets.token_urlsafe(16)
        payment: dict[str, Any] = {
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"],
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        period = invoice.get("subscription_period")
        if period:
            expires = int(time.time()) + int(period)
            payment.update(
                subscription_expiration_date=expires, is_recurring=True, is_first_recurring=True
            )
            self.star_subscriptions[charge_id] = StarSubscription(
                user_id, link, invoice["payload"], invoice["total_amount"], int(period), expires
            )
        update = self.message_update(user_id, None)
        update["message"]["successful_payment"] = payment
        return update

    def renewal_update(self, charge_id: str) -> dict[str, Any]:
        """The next period's payment of the subscription whose first payment was
        ``charge_id``: Telegram charges it by itself, with no pre-checkout query. Refused
        (AssertionError) when the bot turned the renewal off, as Telegram would not charge."""
        subscription = self.star_subscriptions.get(charge_id)
        if subscription is None:
            raise AssertionError(f"no subscription started with charge {charge_id!r}")
        if subscription.canceled_by_bot:
            raise AssertionError(f"the bot canceled subscription {charge_id!r}: no renewal")
        subscription.expires += subscription.period
        subscription.renewals += 1
        invoice = self.invoice_links[subscription.link]
        payment = {
            "currency": invoice["currency"],
            "total_amount": subscription.amount,
            "invoice_payload": subscription.payload,
            "telegram_payment_charge_id": "stxt" + secrets.token_urlsafe(16),
            "provider_payment_charge_id": "",
            "subscription_expiration_date": subscription.expires,
            "is_recurring": True,
        }
        update = self.message_update(subscription.user_id, None)
        update["message"]["successful_payment"] = payment
        return update
