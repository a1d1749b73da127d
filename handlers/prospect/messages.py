"""What prospects write or share: text, captions, their phone; other media get a kind reply."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ContentType
from aiogram.types import Message

from bot.engine.types import Contact, Input, Text
from bot.service import FunnelService
from bot.telegram.channel import Channels
from handlers.filters import Magic
from handlers.reply import lead_key, reply, texts

#: Things a person sends that carry no words we can use; service messages are left alone.
_MEDIA = {
    ContentType.STICKER,
    ContentType.PHOTO,
    ContentType.VIDEO,
    ContentType.VIDEO_NOTE,
    ContentType.VOICE,
    ContentType.AUDIO,
    ContentType.ANIMATION,
    ContentType.DOCUMENT,
    ContentType.LOCATION,
    ContentType.VENUE,
    ContentType.POLL,
    ContentType.DICE,
    ContentType.STORY,
}


async def _feed(
    message: Message, event: Input, service: FunnelService, channels: Channels, bot: Bot
) -> None:
    if message.from_user is not None:
        await service.handle(
            lead_key(message.from_user), event, channels.chat(bot, message.chat.id)
        )


async def contact(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    """The share-phone button. Someone else's card counts as a typed number, not as theirs."""
    card = message.contact
    assert card is not None and message.from_user is not None
    own = card.user_id is not None and card.user_id == message.from_user.id
    event: Input = Contact(card.phone_number) if own else Text(card.phone_number)
    await _feed(message, event, service, channels, bot)


async def text(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    """Any text, unknown commands included: the engine knows what the prospect is asked."""
    assert message.text is not None
    await _feed(message, Text(message.text), service, channels, bot)


async def caption(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    """A photo or file with words under it: the words are the answer."""
    assert message.caption is not None
    await _feed(message, Text(message.caption), service, channels, bot)


async def media(message: Message, service: FunnelService, channels: Channels, bot: Bot) -> None:
    """A sticker, voice or photo alone: say kindly what the bot understands."""
    await reply(channels, bot, message.chat.id, texts(service, message.from_user).unknown)


def router() -> Router:
    """Order matters: a contact or a text is taken before the catch-all for media."""
    messages = Router(name="messages")
    messages.message.register(contact, Magic(F.contact))
    messages.message.register(text, Magic(F.text))
    messages.message.register(caption, Magic(F.caption))
    messages.message.register(media, Magic(F.content_type.in_(_MEDIA)))
    return messages
