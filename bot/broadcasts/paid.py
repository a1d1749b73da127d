"""Paid broadcasts: Telegram's ``allow_paid_broadcast``, what it costs, and the Stars cap.

Telegram lets a bot send up to 1000 messages a second, past its ~30/s broadcasting limit,
for 0.1 Telegram Star per message sent with ``allow_paid_broadcast``, taken from the bot's
Stars balance. An operator opts in per broadcast, with a rate (1000/s at most) and a cap in
Stars that the broadcast never exceeds: each message is counted against the cap before it
goes, and the broadcast stops by itself (state ``stopped``) when the next one would not fit.

The terms are checked here once for every face (CLI, ``/broadcast``, the dashboard), and the
preview's cost is worded here, in English and Russian, so every face says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from bot.broadcasts.errors import BroadcastError
from bot.engine.types import OutMessage
from bot.telegram.layout import layout
from storage.broadcasts import PaidTerms

#: Telegram's ceiling for paid broadcasts, and the default rate of one.
MAX_RATE = 1000.0
#: Messages per Star: each message sent with ``allow_paid_broadcast`` costs 0.1 Star.
PER_STAR = 10


def stars(messages: int) -> str:
    """Messages as the Stars they cost: 2500 -> ``250``, 1 -> ``0.1``."""
    return format(Decimal(messages) / PER_STAR, "f")


def parse_stars(text: str | float | Decimal) -> int:
    """A cap typed in Stars, as the whole number of messages it pays for (0.1 Star each)."""
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except InvalidOperation:
        raise BroadcastError(f"stars-cap: '{text}' is not a number of Stars") from None
    if not value.is_finite() or value < 0:
        raise BroadcastError(f"stars-cap: '{text}' is not a number of Stars")
    messages = int((value * PER_STAR).to_integral_value(rounding=ROUND_FLOOR))
    if messages < 1:
        raise BroadcastError("stars-cap: at least 0.1 (the price of one message)")
    return messages


def parse_rate(text: str | float | None) -> float:
    if text is None or text == "":
        return MAX_RATE
    try:
        rate = float(str(text).strip().lower().removesuffix("/s"))
    except ValueError:
        raise BroadcastError(f"rate: '{text}' is not a number of messages a second") from None
    if not 1 <= rate <= MAX_RATE:
        raise BroadcastError(f"rate: 1 to {MAX_RATE:g} messages a second (Telegram's paid limit)")
    return rate


def paid_terms(
    paid: bool, rate: str | float | None = None, stars_cap: str | float | Decimal | None = None
) -> PaidTerms | None:
    """The opt-in as typed: ``None`` for an ordinary broadcast; a cap is required."""
    if not paid:
        if rate is not None or stars_cap is not None:
            raise BroadcastError("rate and stars-cap go with a paid broadcast (paid)")
        return None
    if stars_cap is None or str(stars_cap).strip() == "":
        raise BroadcastError("a paid broadcast needs stars-cap: the most Stars it may spend")
    return PaidTerms(rate=parse_rate(rate), cap=parse_stars(stars_cap))


def calls_of(messages: list[OutMessage]) -> int:
    """How many Bot API messages these take (a file and a long text are two, and so on)."""
    return sum(len(layout(m)) for m in messages)


@dataclass(frozen=True, slots=True)
class Cost:
    """A paid broadcast's price before it is sent, from the sample lead's copy."""

    leads: int
    per_lead: int  # Bot API messages the sample lead's copy takes
    cap: int  # messages the Stars cap pays for
    rate: float

    @property
    def messages(self) -> int:
        return self.leads * self.per_lead

    @property
    def covered(self) -> int:
        """Leads whose copy the cap pays for, in full."""
        if not self.per_lead:
            return self.leads
        return min(self.leads, self.cap // self.per_lead)

    @property
    def seconds(self) -> float:
        return self.messages / self.rate if self.rate else 0.0

    def lines(self, lang: str = "en") -> list[str]:
        """The cost as an operator reads it before pressing Send (``ru`` or ``en``)."""
        words = RU if lang == "ru" else EN

        def star(messages: int) -> str:
            shown = stars(messages)
            return shown.replace(".", ",") if lang == "ru" else shown

        rate, cap = f"{self.rate:g}", star(self.cap)
        out = [
            words["head"].format(rate=rate),
            words["cost"].format(
                leads=self.leads, per=self.per_lead, messages=self.messages,
                stars=star(self.messages), seconds=f"{max(self.seconds, 1):.0f}",
            ),
        ]  # fmt: skip
        if self.covered >= self.leads:
            out.append(words["cap_ok"].format(cap=cap))
        else:
            spent = self.covered * self.per_lead
            out.append(
                words["cap_short"].format(
                    cap=cap, covered=self.covered, leads=self.leads, spent=star(spent)
                )
            )
        out.append(words["honest"])
        return out


EN = {
    "head": "Paid broadcast (Telegram's allow_paid_broadcast): up to {rate} messages a second "
    "instead of about 30.",
    "cost": "Cost: {leads} lead(s) × {per} message(s) = {messages} messages × 0.1 ⭐ = "
    "{stars} Stars from the bot's Stars balance (about {seconds} s of sending).",
    "cap_ok": "Stars cap {cap}: it covers everyone.",
    "cap_short": "Stars cap {cap}: it covers {covered} of {leads} leads ({spent} Stars); the "
    "broadcast then stops by itself (state stopped) and the rest wait: raise the cap and resume "
    "to reach them, or cancel.",
    "honest": "Telegram charges every message sent with this flag, even at moments when 30 a "
    "second would have been enough. leadbot counts a message against the cap before it goes and "
    "gives it back if Telegram refuses it; leads who unsubscribe or block the bot before their "
    "turn cost nothing. A chain's later messages (after its first wait) go at the usual rate, "
    "unpaid. If the bot's Stars balance runs out, Telegram refuses and the broadcast stops.",
}
RU = {
    "head": "Платная рассылка (allow_paid_broadcast в Telegram): до {rate} сообщений в секунду "
    "вместо примерно 30.",
    "cost": "Стоимость: {leads} лид(ов) × {per} сообщ. = {messages} сообщений × 0,1 ⭐ = "
    "{stars} Stars с баланса звёзд бота (около {seconds} с отправки).",
    "cap_ok": "Лимит {cap} Stars: хватит на всех.",
    "cap_short": "Лимит {cap} Stars: хватит на {covered} из {leads} лидов ({spent} Stars); "
    "затем рассылка остановится сама (состояние stopped), остальные подождут: поднимите лимит и "
    "продолжите рассылку, чтобы охватить их, или отмените её.",
    "honest": "Telegram берёт плату за каждое сообщение с этим флагом, даже когда хватило бы "
    "обычных 30 в секунду. leadbot учитывает сообщение в лимите до отправки и возвращает его, "
    "если Telegram сообщение отклонил; лиды, которые отписались или заблокировали бота до своей "
    "очереди, ничего не стоят. Следующие сообщения цепочки (после первого ожидания) уходят "
    "с обычной скоростью и бесплатно. Если у бота закончатся звёзды, Telegram откажет, и "
    "рассылка остановится.",
}
