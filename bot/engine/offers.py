"""The product ladder: lead magnets, offers, invoices and payments.

Showing an offer is a step (``bot.engine.steps`` calls ``show_offer``); clicking it and
paying for it are inputs (``bot.engine.dispatch`` calls ``offer_clicked`` and ``paid``).
"""

from __future__ import annotations

from decimal import Decimal

from bot.engine.run import Run
from bot.engine.types import (
    Alert,
    CheckMembership,
    Invoice,
    Membership,
    OutButton,
    Paid,
    RecordOrder,
    RecordSubscription,
)
from bot.scenario.funnel import Placed
from bot.scenario.model import SUBSCRIPTION_PERIOD, ZERO_DECIMAL, LeadMagnetStep, OfferStep
from bot.vocabulary import (
    AlertReason,
    EventType,
    LeadStatus,
    OrderKind,
    Stage,
    Waiting,
    invoice_payload,
    offer_of_payload,
)

MAX_ORDERS_KEPT = 20  # recent charge ids remembered, so a repeated payment is not counted twice


def deliver_magnet(run: Run, placed: Placed, step: LeadMagnetStep) -> None:
    buttons: tuple[tuple[OutButton, ...], ...] = ()
    if step.link:
        label = step.link_text or run.texts.magnet_link_button
        buttons = ((OutButton(text=label, url=step.link),),)
    run.say(step.lead_magnet, placed.id, document=step.document, buttons=buttons)
    run.log(EventType.LEAD_MAGNET_DELIVERED, placed.id, title=step.title)


def gated(run: Run, placed: Placed, step: LeadMagnetStep) -> bool:
    """Hold the magnet behind its gate: ask the face whether the prospect already joined.

    True when the chain now waits for the answer (``Membership``); the prospect sees the ask
    only if they are not a member yet, so a subscriber gets the file straight away.
    """
    if step.gate is None:
        return False
    run.state.step, run.state.waiting = placed.id, Waiting.SUBSCRIPTION
    run.actions.append(CheckMembership(step.gate.channel, placed.id))
    return True


def recheck(run: Run, placed: Placed, step: LeadMagnetStep) -> None:
    """The prospect pressed «Check subscription»."""
    st = run.state
    if step.gate is None or st.step != placed.id or st.waiting != Waiting.SUBSCRIPTION:
        run.toast = run.texts.not_current
        return
    run.actions.append(CheckMembership(step.gate.channel, placed.id, recheck=True))


def membership(run: Run, event: Membership) -> None:
    """The face's answer: the file and on along the chain, or the (friendly) ask to join."""
    st = run.state
    placed = run.funnel.get(event.step)
    if placed is None or st.step != placed.id or st.waiting != Waiting.SUBSCRIPTION:
        return  # answered twice, or the lead moved on meanwhile
    step = placed.step
    assert isinstance(step, LeadMagnetStep) and step.gate is not None
    gate = step.gate
    if event.member is False:
        shown = EventType.GATE_NOT_YET if event.recheck else EventType.GATE_SHOWN
        run.log(shown, placed.id, channel=gate.channel, title=step.title)
        labels = [(run.texts.gate_join_button, gate.join_url), (run.texts.gate_check_button, None)]
        text = (gate.not_yet or run.texts.gate_not_yet) if event.recheck else gate.prompt
        run.say(text, placed.id, buttons=run.buttons_for(placed.id, labels))
        return
    # Could not tell (the bot is not an admin of the channel): the prospect is not held
    # hostage to a set-up mistake; the log says so for the operator.
    if event.member is None:
        passed = EventType.GATE_UNCHECKED
    else:
        passed = EventType.GATE_JOINED if event.recheck else EventType.GATE_PASSED
    run.log(passed, placed.id, channel=gate.channel, title=step.title, recheck=event.recheck)
    st.waiting = None
    deliver_magnet(run, placed, step)
    run.advance(placed)


def offer_fields(step: OfferStep) -> dict[str, str]:
    """What every offer event carries, so reports can group by tier and price."""
    return {
        "tier": step.tier,
        "title": step.title,
        "price": str(step.price),
        "currency": step.currency,
    }


def show_offer(run: Run, placed: Placed, step: OfferStep) -> None:
    variant = run.variant(placed, step.variants)
    labels: list[tuple[str, str | None]] = [(step.button or run.texts.offer_button, None)]
    labels += [(b.text, b.url) for b in step.buttons]
    run.say(
        variant.text if variant else step.offer,
        placed.id,
        buttons=run.buttons_for(placed.id, labels),
        image=(variant.image if variant and variant.image else step.image),
    )
    run.log(EventType.OFFER_SHOWN, placed.id, **offer_fields(step), **run.variant_of(placed))


def offer_clicked(run: Run, placed: Placed, step: OfferStep) -> None:
    run.log(EventType.OFFER_CLICKED, placed.id, **offer_fields(step), **run.variant_of(placed))
    run.raise_stage(Stage.HOT, placed.id)
    run.actions.append(Alert(AlertReason.OFFER_CLICKED, placed.id))
    if step.subscription is not None:
        # Telegram bills periodically only through an invoice link: a message with a button.
        invoice = Invoice(
            title=step.title[:32],
            description=(step.description or step.title)[:255],
            payload=invoice_payload(placed.id),
            currency=step.currency,
            amount=step.minor_units,
            period=int(SUBSCRIPTION_PERIOD.total_seconds()),
            button=run.texts.subscribe_button,
        )
        text = run.texts.subscribe_link.replace("{offer}", step.title)
        run.say(text.replace("{price}", str(step.minor_units)), placed.id, invoice=invoice)
        run.log(
            EventType.INVOICE_SENT,
            placed.id,
            amount=str(step.price),
            currency=step.currency,
            subscription=step.subscription,
        )
    elif step.invoice:
        invoice = Invoice(
            title=step.title[:32],
            description=(step.description or step.title)[:255],
            payload=invoice_payload(placed.id),
            currency=step.currency,
            amount=step.minor_units,
        )
        run.say(step.title, placed.id, invoice=invoice)
        run.log(EventType.INVOICE_SENT, placed.id, amount=str(step.price), currency=step.currency)
    else:
        assert step.link is not None
        link_text = run.texts.offer_link.replace("{offer}", step.title)
        run.say(
            link_text,
            placed.id,
            buttons=((OutButton(text=run.texts.offer_link_button, url=step.link),),),
        )
    if step.on_click:
        run.cancel_timers(EventType.OFFER_CLICKED)
        run.run(step.on_click)


def paid(run: Run, event: Paid) -> None:
    """Telegram confirmed a payment: record the order once, thank, go on to the upsell.

    A subscription's renewal is an order too (revenue counts it), but the lead's place in
    the funnel stays where it is: Telegram charged it, the prospect did nothing.
    """
    st = run.state
    if event.charge_id in st.orders:
        run.log(EventType.PAYMENT_DUPLICATE, st.step, charge_id=event.charge_id)
        return
    st.orders = [*st.orders[-(MAX_ORDERS_KEPT - 1) :], event.charge_id]
    offer_id = offer_of_payload(event.payload)
    placed = run.funnel.get(offer_id)
    step = placed.step if placed is not None else None
    tier = step.tier if isinstance(step, OfferStep) else "unknown"
    title = step.title if isinstance(step, OfferStep) else (offer_id or "order")
    factor = 1 if event.currency in ZERO_DECIMAL else 100
    amount = str(Decimal(event.amount) / factor)
    kind = OrderKind.ONE_OFF
    if event.recurring:
        kind = OrderKind.RENEWAL if event.renewal else OrderKind.SUBSCRIPTION
    order = {
        "amount": amount,
        "currency": event.currency,
        "title": title,
        "tier": tier,
        "offer_step": offer_id,
        "charge_id": event.charge_id,
    }
    if kind != OrderKind.ONE_OFF:
        order["kind"] = kind
    run.log(EventType.ORDER_PAID, offer_id, **order)
    run.actions.append(
        RecordOrder(
            offer_id or "", tier, title, event.amount, event.currency, event.charge_id, kind
        )
    )
    if event.recurring:
        subscribed(run, event, offer_id, title, amount)
    if event.renewal:
        if st.status in {LeadStatus.ACTIVE, LeadStatus.COMPLETED}:
            run.say(run.texts.renewed.replace("{offer}", title), offer_id)
        return
    run.set_stage(Stage.CUSTOMER, offer_id)
    run.cancel_timers("paid")
    if st.status in {LeadStatus.UNSUBSCRIBED, LeadStatus.BLOCKED}:
        return
    st.status = LeadStatus.ACTIVE
    thanks = run.texts.subscribed if event.recurring else run.texts.paid
    run.say(thanks.replace("{offer}", title), offer_id, remove_keyboard=True)
    after = run.funnel.scenario.after_purchase
    chain = run.funnel.chains.get(after) if after else None
    if chain:
        run.log(EventType.AFTER_PURCHASE, chain[0], chain=after)
        run.run(chain[0])
    else:
        run.finish(offer_id)


def subscribed(run: Run, event: Paid, offer_id: str | None, title: str, amount: str) -> None:
    """A Stars subscription's payment: started (the first one) or renewed, until when."""
    expires = event.expires_at.isoformat() if event.expires_at else None
    run.log(
        EventType.SUBSCRIPTION_RENEWED if event.renewal else EventType.SUBSCRIPTION_STARTED,
        offer_id,
        title=title,
        amount=amount,
        currency=event.currency,
        charge_id=event.charge_id,
        expires_at=expires,
    )
    run.actions.append(
        RecordSubscription(
            offer_id or "",
            title,
            event.amount,
            event.currency,
            event.charge_id,
            event.expires_at,
            renewal=event.renewal,
        )
    )
