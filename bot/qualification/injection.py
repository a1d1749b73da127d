"""Spotting obvious prompt-injection attempts in what a prospect typed.

Detection never decides a segment: a hit only flags the lead for a manager and stops the
model from moving the lead above the offline classifier's verdict. So a false positive costs
little (a flag), which is why the patterns can be broad.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bot.vocabulary import LeadFlag

INJECTION_SUSPECTED = LeadFlag.INJECTION_SUSPECTED


# Invisible characters used to split trigger words ("ig\u200bnore").
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"))
# Look-alike letters, folded one way for the English patterns and the other for the Russian.
_CYR_TO_LAT = str.maketrans("аеорсухкмтвнёі", "aeopcyxkmtbheI".lower())
_LAT_TO_CYR = str.maketrans("aeopcyxkmtbh", "аеорсухкмтвн")

_ENGLISH: dict[str, str] = {
    "ignore_instructions": r"\b(ignore|disregard|override|bypass)\b.{0,40}"
    r"\b(instruction|prompt|rule|guideline|context)s?\b",
    "forget_instructions": r"\bforget\b.{0,40}\b(instruction|prompt|rule|everything|above)s?\b",
    "system_prompt": r"\b(system|developer|hidden|initial)\s*(prompt|message|instruction)s?\b",
    "new_instructions": r"\b(new|updated|following)\s+instructions?\b",
    "role_play": r"\b(you\s+are\s+now|from\s+now\s+on\s+you|act\s+as\s+(an?\s+)?"
    r"(ai|assistant|classifier|model|system|admin)|pretend\s+(to\s+be|you\s+are))\b",
    "set_segment": r"\b(classify|categori[sz]e|mark|label|tag|put|place|assign|set|move|rate|"
    r"score|treat)\s+(me|this\s+lead|this\s+prospect|the\s+lead)\b.{0,15}\b(as|to|in|into)\b"
    r".{0,20}\b(vip|hot|segment|category|priority|highest|top\s+(tier|segment|category))",
    "say_segment": r"\b(say|answer|respond|output|return|reply|write)\s+(that\s+)?"
    r"(i\s*am|i'm|this\s+lead\s+is)\b.{0,20}\b(vip|hot|ready)",
    "segment_must_be": r"\b(segment|category|classification)\s+(should|must)\s+be\b",
    "jailbreak": r"\b(jailbreak|developer\s+mode|dan\s+mode|do\s+anything\s+now)\b",
}

_RUSSIAN: dict[str, str] = {
    "ignore_instructions": r"(проигнорир|игнорир|не\s+обращай\s+внимани|не\s+слушай|обойди)"
    r"\w*.{0,40}(инструкц|указани|правил|промпт|подсказ|ограничени)",
    "forget_instructions": r"забудь\w*.{0,40}(инструкц|указани|правил|промпт|всё|все|"
    r"что\s+тебе)",
    "system_prompt": r"(системн\w+|скрыт\w+|исходн\w+)\s+(промпт|подсказк|сообщени|инструкц)",
    "new_instructions": r"нов(ые|ая)\s+(инструкц|указани)",
    "role_play": r"(ты\s+теперь|теперь\s+ты|отныне\s+ты|представь,?\s+что\s+ты|"
    r"веди\s+себя\s+как|притворись)",
    "set_segment": r"(постав|присво|присва|назнач|отнеси|определи|запиши|пометь|отметь|"
    r"классифицир|переведи|перемести|выстав)\w*\s+(мне|меня|мой|моей|этого\s+"
    r"(лида|клиента))\b.{0,20}(сегмент|категори|статус|vip|вип|горяч|приоритет|высш|"
    r"максимал)",
    "say_segment": r"(скажи|напиши|ответь|верни|выведи)\w*,?\s+что\s+(я|этот\s+лид)\s+"
    r".{0,20}(горяч|vip|вип|готов|сегмент)",
    "segment_must_be": r"(сегмент|категори\w*|статус)\s+(должен|должна|должно)\s+быть",
    "jailbreak": r"(джейлбрейк|режим\w*\s+разработчика)",
}

_SHARED: dict[str, str] = {
    "role_tag": r"(<\|?\s*/?\s*(im_start|im_end|system|assistant|user|developer)\s*\|?>|"
    r"\[/?(inst|sys|system)\]|<</?sys>>|^\s*#{1,4}\s*(system|instruction)|"
    r"^\s*(system|assistant|developer)\s*:)",
    "json_segment": r"[\"'«]\s*(segment|сегмент)\s*[\"'»]\s*:",
}


def _compile(table: Mapping[str, str]) -> list[tuple[str, re.Pattern[str]]]:
    flags = re.IGNORECASE | re.MULTILINE | re.DOTALL
    return [(name, re.compile(rx, flags)) for name, rx in table.items()]


_EN = _compile(_ENGLISH)
_RU = _compile(_RUSSIAN)
_ANY = _compile(_SHARED)


def normalize(text: str) -> str:
    """NFKC, no invisible characters, lower case, ё as е, runs of spaces as one."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    text = text.replace("ё", "е")
    return re.sub(r"[ \t\u00a0]+", " ", text)


def find_injection(text: str) -> list[str]:
    """Names of the patterns ``text`` matches (empty when it looks honest)."""
    base = normalize(text)
    latin, cyrillic = base.translate(_CYR_TO_LAT), base.translate(_LAT_TO_CYR)
    found = [name for name, rx in _EN if rx.search(latin) or rx.search(base)]
    found += [f"ru_{name}" for name, rx in _RU if rx.search(cyrillic) or rx.search(base)]
    found += [name for name, rx in _ANY if rx.search(base)]
    return list(dict.fromkeys(found))


def detect_injection(answers: Mapping[str, str]) -> list[str]:
    """Pattern names matched in any of the answers, each once."""
    found: list[str] = []
    for value in answers.values():
        found += find_injection(value)
    return list(dict.fromkeys(found))
