"""aiogram's Telegram types, each built when first used rather than all at import.

Why: ``aiogram.types`` ends with a loop calling ``model_rebuild`` on every one of its
classes (about 400), handing each a namespace that resolves the names its annotations
import only under ``TYPE_CHECKING``. That builds every class's pydantic validator and
serializer up front: some 100 MB of a bare aiogram bot's 171 MB resident, and most of its
import time, although a bot meets a few dozen types (aiogram issue #1513, open). The classes
are declared with pydantic's ``defer_build=True`` already; only that loop builds them.

``import_aiogram`` imports aiogram with that loop's calls skipped, then binds in each of
aiogram's modules the names its models' annotations use but import only for type checkers,
taken from the loop's own namespace: what ``TYPE_CHECKING`` leaves out, nothing more. A
deferred class is then built by pydantic itself the first time it is used, alone or inside
another (a method's parameters, a response), from its module's names as usual. ``Update``,
which every update needs, is built at once, so the first update does not pay for it.
Nothing of pydantic stays patched after the import. A first use builds a class, so it is
best kept to one thread: aiogram's models are only used on the event loop's thread here (no
handler or filter runs in a worker thread: ``tests/unit/test_no_thread_hops.py``).
``tests/unit/test_aiogram_types.py`` builds every class this way and compares them with
aiogram's eager ones, so a pydantic or aiogram upgrade that broke this fails there.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

#: The module whose import ends with the loop (``aiogram/types/__init__.py``).
TYPES_MODULE = "aiogram.types"
_NAME = re.compile(r"[A-Za-z_]\w*")


def import_aiogram() -> bool:
    """Import aiogram with its types deferred; False if aiogram was imported already (then
    it stays as it is)."""
    if TYPES_MODULE in sys.modules:
        return False
    rebuild = BaseModel.__dict__["model_rebuild"]
    namespaces: list[Mapping[str, Any]] = []

    def skip(cls: type[BaseModel], /, **kwargs: Any) -> bool | None:
        names = kwargs.get("_types_namespace")
        if names is None or len(kwargs) > 1 or not cls.__module__.startswith(TYPES_MODULE):
            result: bool | None = rebuild.__func__(cls, **kwargs)
            return result
        if not namespaces:
            namespaces.append(names)
        return None

    BaseModel.model_rebuild = classmethod(skip)  # type: ignore[method-assign,assignment]
    try:
        import aiogram.types
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
    if namespaces:
        bind_type_checking_names(namespaces[0])
    aiogram.types.Update.model_rebuild()
    return True


def bind_type_checking_names(names: Mapping[str, Any]) -> int:
    """Bind, in each aiogram module defining models, the names of ``names`` its models'
    annotations mention and the module lacks; how many were bound."""
    bound = 0
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("aiogram."):
            continue
        scope = vars(module)
        for annotation in _annotations(module_name, scope):
            for name in _NAME.findall(annotation):
                if name not in scope and name in names:
                    scope[name] = names[name]
                    bound += 1
    return bound


def _annotations(module_name: str, scope: Mapping[str, Any]) -> Iterator[str]:
    """The string annotations of the pydantic models ``module_name`` defines, their
    inherited fields' too: pydantic resolves those in the subclass's module."""
    for value in list(scope.values()):
        if (
            isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == module_name
        ):
            for cls in value.__mro__:
                for annotation in vars(cls).get("__annotations__", {}).values():
                    if isinstance(annotation, str):
                        yield annotation
